"""The OpenAPI description matches the contract and what the routes really return."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambda_app.main import create_app

# The contract: every status each operation may answer with.
AUTH = {"401", "403"}
BODY = {"413", "415"}
KEYED = {"400"}  # an invalid Idempotency-Key
CONDITIONAL = {"400"}  # an If-Match naming too many entity tags
CONTRACT = {
    ("get", "/health"): {"200", "503"},
    ("get", "/users/me"): {"200", "304", "401", "404", "503"},
    ("post", "/users/me"): {"200", "201", "401", "409", "422", "502", "503"} | BODY | KEYED,
    ("post", "/users"): {"201", "409", "422", "503"} | AUTH | BODY | KEYED,
    ("get", "/users"): {"200", "422", "503"} | AUTH,
    ("get", "/users/{user_id}"): {"200", "304", "404", "422", "503"} | AUTH,
    ("patch", "/users/{user_id}"): {"200", "404", "409", "412", "422", "503"}
    | AUTH
    | BODY
    | CONDITIONAL,
    ("delete", "/users/{user_id}"): {"202", "204", "404", "409", "412", "422", "503"}
    | AUTH
    | CONDITIONAL,
    ("post", "/users/{user_id}/avatar"): {"201", "404", "409", "422", "502", "503"}
    | AUTH
    | BODY
    | KEYED,
    ("get", "/users/{user_id}/avatar"): {"200", "404", "422", "502", "503"} | AUTH,
    ("delete", "/users/{user_id}/avatar"): {"204", "404", "422", "502", "503"} | AUTH,
}
# Operation ids are what generated clients name their methods: the route functions' names.
OPERATION_IDS = {
    ("get", "/health"): "health",
    ("get", "/users/me"): "read_me",
    ("post", "/users/me"): "register_me",
    ("post", "/users"): "create_user",
    ("get", "/users"): "list_users",
    ("get", "/users/{user_id}"): "read_user",
    ("patch", "/users/{user_id}"): "update_user",
    ("delete", "/users/{user_id}"): "delete_user",
    ("post", "/users/{user_id}/avatar"): "create_avatar_upload",
    ("get", "/users/{user_id}/avatar"): "read_avatar",
    ("delete", "/users/{user_id}/avatar"): "delete_avatar",
}
# Request headers of the retry-safety contract, and the operations that take them.
REQUEST_HEADERS = {
    "If-None-Match": {("get", "/users/me"), ("get", "/users/{user_id}")},
    "If-Match": {("patch", "/users/{user_id}"), ("delete", "/users/{user_id}")},
    "Idempotency-Key": {
        ("post", "/users"),
        ("post", "/users/me"),
        ("post", "/users/{user_id}/avatar"),
    },
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return dict(TestClient(create_app()).get("/openapi.json").json())


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }


def test_every_contract_operation_and_no_other_is_documented(spec: dict[str, Any]) -> None:
    assert set(operations(spec)) == set(CONTRACT)


@pytest.mark.parametrize(("operation_key", "statuses"), CONTRACT.items())
def test_documented_statuses_match_the_contract(
    spec: dict[str, Any], operation_key: tuple[str, str], statuses: set[str]
) -> None:
    operation = operations(spec)[operation_key]

    assert set(operation["responses"]) == statuses
    assert operation["summary"]


def test_operation_ids_are_the_route_names(spec: dict[str, Any]) -> None:
    ids = {key: operation["operationId"] for key, operation in operations(spec).items()}

    assert ids == OPERATION_IDS


@pytest.mark.parametrize(("header", "keys"), REQUEST_HEADERS.items())
def test_conditional_and_idempotency_headers_are_documented_where_taken(
    spec: dict[str, Any], header: str, keys: set[tuple[str, str]]
) -> None:
    taking = {
        key
        for key, operation in operations(spec).items()
        if any(p["in"] == "header" and p["name"] == header for p in operation.get("parameters", []))
    }

    assert taking == keys


def test_reads_and_writes_of_a_user_document_its_etag(spec: dict[str, Any]) -> None:
    for key in [("get", "/users/me"), ("get", "/users/{user_id}"), ("patch", "/users/{user_id}")]:
        assert "ETag" in operations(spec)[key]["responses"]["200"]["headers"], key
        if key[0] == "get":
            assert "ETag" in operations(spec)[key]["responses"]["304"]["headers"], key
    for key in [("post", "/users"), ("post", "/users/me")]:
        headers = operations(spec)[key]["responses"]["201"]["headers"]
        assert {"ETag", "Idempotent-Replayed"} <= set(headers), key


def test_errors_are_documented_as_problem_json(spec: dict[str, Any]) -> None:
    for key, operation in operations(spec).items():
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")) and key != ("get", "/health"):
                assert list(response["content"]) == ["application/problem+json"], (key, status)


def test_success_responses_have_typed_schemas(spec: dict[str, Any]) -> None:
    for key, operation in operations(spec).items():
        for status, response in operation["responses"].items():
            if status in {"200", "201"}:
                schema = response["content"]["application/json"]["schema"]
                assert "$ref" in schema, key


def test_every_route_but_health_requires_a_bearer_token(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for key, operation in operations(spec).items():
        expected = [] if key == ("get", "/health") else [{"HTTPBearer": []}]
        assert operation.get("security", []) == expected, key


def test_docs_can_be_switched_off() -> None:
    from tests.conftest import settings_env

    with settings_env(API_DOCS="false"):
        client = TestClient(create_app())
        statuses = [client.get(path).status_code for path in ("/docs", "/openapi.json", "/redoc")]

    assert statuses == [404, 404, 404]


def test_docs_and_openapi_are_served() -> None:
    client = TestClient(create_app())

    docs = client.get("/docs")

    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert client.get("/openapi.json").json()["info"]["title"] == "Users service"

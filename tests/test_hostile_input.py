"""Hostile and malformed input: a 4xx problem+json every time, and the database unchanged."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.conftest import settings_env
from tests.routers.test_users import assert_problem

JSON = {"content-type": "application/json"}


@pytest.fixture
def unchanged(client: TestClient, db_engine: Engine, make_user: Any) -> Iterator[dict[str, Any]]:
    """A user to aim at; after the test, every row must be exactly as before."""
    target = make_user("target@example.com", full_name="Target")

    def rows() -> list[tuple[Any, ...]]:
        with db_engine.connect() as connection:
            return [
                tuple(row) for row in connection.execute(text("SELECT * FROM users ORDER BY id"))
            ]

    before = rows()
    yield target
    assert rows() == before


RAW_BODIES = {
    "NUL in a name": b'{"email": "nul@example.com", "full_name": "a\\u0000b"}',
    "NUL in an email": b'{"email": "nul\\u0000@example.com"}',
    "lone surrogate": b'{"email": "s@example.com", "full_name": "\\ud800"}',
    "lone surrogate in a key": b'{"email": "s@example.com", "\\udfff": 1}',
    "invalid UTF-8": b'{"email": "u@example.com", "full_name": "\xff\xfe"}',
    "duplicate keys": b'{"email": "a@example.com", "email": "b@example.com"}',
    "deeply nested": b"[" * 20_000 + b"]" * 20_000,
    "nested object as a name": b'{"email": "n@example.com", "full_name": {"a": {"b": 1}}}',
    "number as an email": b'{"email": 5}',
    "number as a name": b'{"email": "n@example.com", "full_name": 5}',
    "number as a user type": b'{"email": "n@example.com", "user_type": 1}',
    "very long name": json.dumps({"email": "l@example.com", "full_name": "x" * 10_000}).encode(),
    "very long email": json.dumps({"email": "x" * 1000 + "@example.com"}).encode(),
    "SQL in an email": b'{"email": "x\'; DROP TABLE users; --@example.com"}',
    "path traversal as a user type": b'{"email": "p@example.com", "user_type": "../../etc/passwd"}',
    "JSON null body": b"null",
    "JSON array body": b'[{"email": "arr@example.com"}]',
    "empty object": b"{}",
    "truncated JSON": b'{"email": "t@example.com"',
}


@pytest.mark.parametrize("case", RAW_BODIES)
def test_malformed_bodies_are_422(client: TestClient, unchanged: dict[str, Any], case: str) -> None:
    response = client.post("/users", content=RAW_BODIES[case], headers=JSON)

    assert_problem(response, 422)


@pytest.mark.parametrize("case", ["NUL in a name", "lone surrogate", "duplicate keys"])
def test_malformed_bodies_are_422_on_update_too(
    client: TestClient, unchanged: dict[str, Any], case: str
) -> None:
    response = client.patch(f"/users/{unchanged['id']}", content=RAW_BODIES[case], headers=JSON)

    assert_problem(response, 422)


def test_text_problems_name_the_field(client: TestClient, unchanged: dict[str, Any]) -> None:
    response = client.post("/users", content=RAW_BODIES["NUL in a name"], headers=JSON)

    assert assert_problem(response, 422)["errors"] == [
        {"field": "body.full_name", "message": "must not contain NUL characters"}
    ]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_bodies_that_are_not_json_are_415(
    client: TestClient, unchanged: dict[str, Any], content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = b'{"email": "ct@example.com"}'

    response = client.post("/users", content=body, headers=headers)

    assert_problem(response, 415)


def test_a_json_suffix_media_type_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/users",
        content=b'{"email": "suffix@example.com"}',
        headers={"content-type": "application/merge-patch+json"},
    )

    assert response.status_code == 201


def test_a_body_over_the_cap_is_413(client: TestClient, unchanged: dict[str, Any]) -> None:
    body = json.dumps({"email": "big@example.com", "full_name": "x" * 70_000}).encode()

    response = client.post("/users", content=body, headers=JSON)

    body_problem = assert_problem(response, 413)
    assert "65536" in body_problem["detail"]


def test_a_declared_length_over_the_cap_is_413_before_reading(
    client: TestClient, unchanged: dict[str, Any]
) -> None:
    response = client.post(
        "/users", content=b"{}", headers={**JSON, "content-length": str(10 * 1024 * 1024)}
    )

    assert_problem(response, 413)


def test_the_body_cap_is_configurable(admin: dict[str, Any], s3: Any) -> None:
    from lambda_app.main import create_app

    with settings_env(MAX_BODY_BYTES="100"):
        client = TestClient(create_app(), headers=admin["headers"])
        small = client.post("/users", json={"email": "small@example.com"})
        large = client.post("/users", json={"email": "large@example.com", "full_name": "x" * 100})

    assert small.status_code == 201
    assert_problem(large, 413)


@pytest.mark.parametrize(
    "path",
    [
        "/users/not-a-uuid",
        "/users/00000000-0000-0000-0000-00000000000g",
        "/users/1%20OR%201=1",
        "/users/%27%3B%20DROP%20TABLE%20users%3B--",
        "/users/" + "a" * 5000,
        "/users/%00",
    ],
)
def test_invalid_ids_are_422(client: TestClient, unchanged: dict[str, Any], path: str) -> None:
    assert_problem(client.get(path), 422)
    assert_problem(client.patch(path, json={"full_name": "x"}), 422)
    assert_problem(client.delete(path), 422)


@pytest.mark.parametrize("path", ["/users/../../etc/passwd", "/users/..%2F..%2Fetc%2Fpasswd"])
def test_path_traversal_never_leaves_the_api(
    client: TestClient, unchanged: dict[str, Any], path: str
) -> None:
    response = client.get(path)

    assert_problem(response, 404)  # no route matches; nothing outside the API is reachable
    assert "root:" not in response.text


@pytest.mark.parametrize(
    "params",
    [
        {"limit": -1},
        {"limit": 10**30},
        {"limit": "1e3"},
        {"offset": -5},
        {"offset": 10**30},
        {"offset": 2**31},
        {"user_type": "admin' OR '1'='1"},
        {"email": "' OR 1=1 --"},
        {"email": "a\x00@example.com"},
        {"email": "x" * 400 + "@example.com"},
    ],
)
def test_bad_query_values_are_422(
    client: TestClient, unchanged: dict[str, Any], params: dict[str, Any]
) -> None:
    assert_problem(client.get("/users", params=params), 422)


def test_sql_looking_text_is_stored_as_text(client: TestClient) -> None:
    name = "Robert'); DROP TABLE users;--"

    created = client.post("/users", json={"email": "bobby@example.com", "full_name": name})

    assert created.status_code == 201
    assert client.get(f"/users/{created.json()['id']}").json()["full_name"] == name
    assert client.get("/users").json()["total"] >= 1


def test_avatar_content_type_outside_the_list_is_422(
    client: TestClient, unchanged: dict[str, Any]
) -> None:
    for content_type in ("../../etc/passwd", "image/svg+xml", "IMAGE/PNG", ""):
        response = client.post(
            f"/users/{unchanged['id']}/avatar", json={"content_type": content_type}
        )
        assert_problem(response, 422)


def test_random_ids_are_404_not_500(client: TestClient) -> None:
    assert_problem(client.get(f"/users/{uuid.uuid4()}"), 404)

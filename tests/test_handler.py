"""API Gateway events through the real Lambda entry point, as Lambda would call it."""

from __future__ import annotations

import base64
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from tests.conftest import ROOT, settings_env

EVENTS = Path(__file__).parent / "events"
LambdaCall = Callable[[dict[str, Any]], dict[str, Any]]


def load_event(name: str, **replacements: str) -> dict[str, Any]:
    """Read a stored event, replacing placeholders such as USER_ID."""
    text = (EVENTS / name).read_text()
    for placeholder, value in replacements.items():
        text = text.replace(placeholder, value)
    return dict(json.loads(text))


def lambda_context() -> Any:
    return SimpleNamespace(
        function_name="users-api",
        aws_request_id="6f1b0c1e-1111-2222-3333-444455556666",
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:users-api",
        get_remaining_time_in_millis=lambda: 29_000,
    )


def reload_handler() -> ModuleType:
    import lambda_app.handler

    return importlib.reload(lambda_app.handler)


@pytest.fixture
def invoke(admin: dict[str, Any], s3: Any) -> LambdaCall:
    module = reload_handler()
    return lambda event: dict(module.handler(event, lambda_context()))


def json_body(response: dict[str, Any]) -> Any:
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


def test_http_api_post_creates_a_user(invoke: LambdaCall) -> None:
    response = invoke(load_event("http_api_create_user.json"))

    assert response["statusCode"] == 201
    user = json_body(response)
    assert user["email"] == "event.user@example.com"
    assert response["headers"]["location"] == f"/users/{user['id']}"


def test_http_api_base64_body_is_decoded(invoke: LambdaCall) -> None:
    response = invoke(load_event("http_api_create_user_base64.json"))

    assert response["statusCode"] == 201
    assert json_body(response)["full_name"] == "Zoë Ünïcode"


def test_http_api_query_string_reaches_the_route(invoke: LambdaCall, make_user: Any) -> None:
    staff = [make_user(f"s{index}@example.com", user_type="staff") for index in range(3)]
    make_user("c@example.com")

    response = invoke(load_event("http_api_list_users_query.json"))

    page = json_body(response)
    assert response["statusCode"] == 200
    assert (page["limit"], page["offset"], page["total"]) == (2, 1, 3)
    assert [user["id"] for user in page["items"]] == [user["id"] for user in staff[1:]]


def test_http_api_unknown_route_is_404_problem(invoke: LambdaCall) -> None:
    response = invoke(load_event("http_api_unknown_route.json"))

    assert response["statusCode"] == 404
    assert response["headers"]["content-type"] == "application/problem+json"
    assert json_body(response)["status"] == 404


def test_rest_api_event_reads_a_user(invoke: LambdaCall, make_user: Any) -> None:
    user = make_user()

    response = invoke(load_event("rest_api_read_user.json", USER_ID=user["id"]))

    assert response["statusCode"] == 200
    assert json_body(response) == user


def test_rest_api_event_for_unknown_user_is_404(invoke: LambdaCall) -> None:
    missing = "00000000-0000-4000-8000-000000000000"

    response = invoke(load_event("rest_api_read_user.json", USER_ID=missing))

    assert response["statusCode"] == 404


@pytest.fixture
def invoke_behind_stage(app_env: Any, s3: Any) -> Iterator[LambdaCall]:
    with settings_env(API_BASE_PATH="/prod"):
        module = reload_handler()
        yield lambda event: dict(module.handler(event, lambda_context()))
    reload_handler()


def test_docs_work_behind_a_named_stage(invoke_behind_stage: LambdaCall) -> None:
    docs = invoke_behind_stage(load_event("http_api_named_stage_docs.json"))
    spec = invoke_behind_stage(load_event("http_api_named_stage_openapi.json"))

    assert docs["statusCode"] == 200
    assert "/prod/openapi.json" in docs["body"]
    assert spec["statusCode"] == 200
    assert "/users/{user_id}" in json_body(spec)["paths"]


def test_event_without_authorizer_claims_is_401_even_with_a_header(invoke: LambdaCall) -> None:
    response = invoke(load_event("http_api_without_authorizer.json"))

    assert response["statusCode"] == 401
    assert response["headers"]["www-authenticate"] == "Bearer"


def test_handler_module_builds_without_any_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with settings_env(DATABASE_URL=None, DB_SECRET_ARN=None, S3_BUCKET=None):
        module = reload_handler()
        response = module.handler(load_event("http_api_unknown_route.json"), lambda_context())

    assert response["statusCode"] == 404


# Run in a process of its own: what init leaves behind is what the test is about.
INIT_COLLECTIONS = """
import gc, json
before = [generation["collections"] for generation in gc.get_stats()]
import lambda_app.handler
after = [generation["collections"] for generation in gc.get_stats()]
print(json.dumps({
    "collections": [done - was for done, was in zip(after, before)],
    "enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "collectable": len(gc.get_objects()),
}))
"""


def in_a_fresh_process(code: str, *arguments: str, environment: dict[str, str]) -> dict[str, Any]:
    """Run `code` in a new Python process at the project's root; return its last line's JSON."""
    result = subprocess.run(
        [sys.executable, "-c", code, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(result.stdout.splitlines()[-1]))


def init_collections() -> dict[str, Any]:
    """What a fresh process's init of the handler collected and froze."""
    environment = {**os.environ, "LOG_LEVEL": "ERROR"}
    # Lambda runs the bundle's byte code: compiling a source file (which allocates enough
    # to trigger a collection before the handler's first line runs) is not part of init.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return in_a_fresh_process(INIT_COLLECTIONS, environment=environment)


def test_init_runs_no_collection_and_freezes_what_it_built() -> None:
    init_collections()  # writes the byte code, as the cold-start bench's warm-up run does
    init = init_collections()

    assert init["collections"] == [0, 0, 0]
    assert init["enabled"]
    # Later collections walk only what requests make, not the app init built.
    assert init["collectable"] < init["frozen"] // 100

"""Every error the app answers leaves the Lambda function as text, in both event shapes.

Mangum base64-encodes any body whose type is not one of its text types, and
`application/problem+json` is not one by default: HTTP APIs decode it, but a REST API without
binary media types hands the base64 text to the client.
"""

from __future__ import annotations

import copy
import importlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine

from bench.events import http_api_event
from lambda_app.main import create_app
from lambda_app.problems import PROBLEM_MEDIA_TYPE
from local.embedded_postgres import free_port
from tests.conftest import ADMIN_EMAIL, ADMIN_SUBJECT, TEST_BUCKET, insert_user, settings_env

EVENTS = Path(__file__).parent / "events"
OTHER = "OTHER_ID"  # replaced by a customer's id
CUSTOMER_SUBJECT = "customer-subject"


@dataclass(frozen=True)
class Asked:
    """A request that the app answers with one error status."""

    method: str
    path: str
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    subject: str | None = ADMIN_SUBJECT  # None: no verified claims at all
    env: dict[str, str] = field(default_factory=dict)


JSON = {"content-type": "application/json"}
# One request per error status the app can answer.
ERRORS = {
    400: Asked(
        "POST", "/users", '{"email": "a@example.com"}', {**JSON, "idempotency-key": "k" * 300}
    ),
    401: Asked("GET", "/users/me", subject=None),
    403: Asked("GET", "/users", subject=CUSTOMER_SUBJECT),
    404: Asked("GET", f"/users/{uuid.UUID(int=7)}"),
    405: Asked("PUT", "/users"),
    409: Asked("POST", "/users", json.dumps({"email": ADMIN_EMAIL}), JSON),
    412: Asked("PATCH", f"/users/{OTHER}", '{"full_name": "x"}', {**JSON, "if-match": '"0-0"'}),
    413: Asked("POST", "/users", json.dumps({"email": "x" * 70_000}), JSON),
    415: Asked("POST", "/users", "email=a@example.com", {"content-type": "text/plain"}),
    422: Asked("POST", "/users", '{"email": "nope"}', JSON),
    500: Asked("GET", "/boom"),
    502: Asked("GET", f"/users/{OTHER}/avatar", env={"S3_ENDPOINT_URL": "REFUSING"}),
    503: Asked("GET", "/users", env={"DATABASE_URL": "REFUSING"}),
}


def rest_api_event(asked: Asked, path: str, subject: str | None) -> dict[str, Any]:
    """A REST API (payload 1.0) event from the stored one, asking `asked`."""
    event: dict[str, Any] = json.loads((EVENTS / "rest_api_read_user.json").read_text())
    headers = {**event["headers"], **asked.headers}
    event.update(
        path=path,
        httpMethod=asked.method,
        headers=headers,
        multiValueHeaders={name: [value] for name, value in headers.items()},
        pathParameters={"proxy": path.lstrip("/")},
        body=asked.body,
    )
    context = event["requestContext"]
    context.update(httpMethod=asked.method, path=f"/prod{path}")
    if subject is None:
        del context["authorizer"]
    else:
        context["authorizer"]["claims"]["sub"] = subject
    return event


def http_api_event_for(asked: Asked, path: str, subject: str | None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event asking `asked`."""
    event = http_api_event(asked.method, path, subject=subject or "nobody", email="x@example.com")
    event["headers"].update(asked.headers)
    if asked.body is not None:
        event["body"] = asked.body
        event["headers"]["content-length"] = str(len(asked.body.encode()))
    if subject is None:
        del event["requestContext"]["authorizer"]
    return event


SHAPES = {"rest_api": rest_api_event, "http_api": http_api_event_for}


@pytest.fixture(scope="module")
def lambda_module() -> Iterator[ModuleType]:
    """The Lambda entry point, with one route that fails unexpectedly (for the 500)."""
    import lambda_app.handler

    module = importlib.reload(lambda_app.handler)

    @module.app.get("/boom")
    def boom() -> None:
        raise RuntimeError("unexpected")

    yield module
    importlib.reload(lambda_app.handler)  # without the extra route


def context() -> Any:
    return SimpleNamespace(
        aws_request_id=str(uuid.uuid4()), get_remaining_time_in_millis=lambda: 20_000
    )


def env_for(asked: Asked) -> dict[str, str]:
    refusing = f"127.0.0.1:{free_port()}"
    values = {
        "S3_ENDPOINT_URL": f"http://{refusing}",
        "DATABASE_URL": f"postgresql://u:p@{refusing}/db",
    }
    return {name: values[name] for name in asked.env}


def test_every_error_status_of_the_api_has_a_case_here() -> None:
    spec = create_app().openapi()
    documented = {
        int(status)
        for item in spec["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
        if PROBLEM_MEDIA_TYPE in response.get("content", {})
    }

    assert documented <= set(ERRORS)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("status", ERRORS)
def test_an_error_body_leaves_the_function_as_text(
    lambda_module: ModuleType,
    admin: dict[str, Any],
    s3: Any,
    db_engine: Engine,
    status: int,
    shape: str,
) -> None:
    other = insert_user(db_engine, email="other@example.com", user_type="customer", subject=None)
    insert_user(db_engine, email="c@example.com", user_type="customer", subject=CUSTOMER_SUBJECT)
    s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{other}/avatar", Body=b"x")
    asked = ERRORS[status]
    event = SHAPES[shape](asked, asked.path.replace(OTHER, other), asked.subject)

    with settings_env(**env_for(asked)):
        response = lambda_module.handler(copy.deepcopy(event), context())

    assert response["statusCode"] == status, response["body"]
    assert response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == PROBLEM_MEDIA_TYPE
    assert json.loads(response["body"])["status"] == status

"""The bench's floors answer like the app: same status, content type and JSON."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from bench import floor_handler, raw_handler, stack_handler
from bench.events import http_api_event, lambda_context
from tests.conftest import ADMIN_EMAIL, ADMIN_SUBJECT, insert_user

GENERATED_FIELDS = ("id", "created_at", "updated_at")


@pytest.fixture
def handlers(admin: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The app's Lambda entry point and both floors, all on the test database."""
    from lambda_app.handler import handler as app_handler

    for floor in (raw_handler, floor_handler):
        floor.close_connection()  # opened again on the test database
    yield {"app": app_handler, "raw": raw_handler.handler, "floor": floor_handler.handler}
    for floor in (raw_handler, floor_handler):
        floor.close_connection()


def as_admin(method: str, path: str, **options: Any) -> dict[str, Any]:
    return http_api_event(method, path, subject=ADMIN_SUBJECT, email=ADMIN_EMAIL, **options)


def answer(handler: Any, event: dict[str, Any]) -> tuple[int, str, Any]:
    """Status, content type and decoded JSON body of a handler's response."""
    response = handler(event, lambda_context())
    body = response["body"]
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return response["statusCode"], response["headers"]["content-type"], json.loads(body)


def test_get_user_answers_the_same(handlers: dict[str, Any], db_engine: Engine) -> None:
    user_id = insert_user(db_engine, email="ada@example.com", user_type="staff", subject=None)
    event = as_admin("GET", f"/users/{user_id}")

    app, raw, floor = (answer(handlers[name], event) for name in ("app", "raw", "floor"))

    assert app == raw == floor
    assert app[0] == 200
    assert app[2]["email"] == "ada@example.com"


def test_get_missing_user_answers_the_same_404(handlers: dict[str, Any]) -> None:
    event = as_admin("GET", "/users/00000000-0000-4000-8000-000000000000")

    app, raw, floor = (answer(handlers[name], event) for name in ("app", "raw", "floor"))

    assert app == raw == floor
    assert app[:2] == (404, "application/problem+json")


def test_list_users_answers_the_same_page(handlers: dict[str, Any], db_engine: Engine) -> None:
    with db_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, full_name, created_at, updated_at) "
                "SELECT 'user-' || g || '@example.com', 'User ' || g, "
                "now() - g * interval '1 second', now() - g * interval '1 second' "
                "FROM generate_series(1, 120) AS g"
            )
        )
    event = as_admin("GET", "/users", query={"limit": "100"})

    app, raw, floor = (answer(handlers[name], event) for name in ("app", "raw", "floor"))

    assert app == raw == floor
    assert app[:2] == (200, "application/json")
    assert len(app[2]["items"]) == 100
    assert app[2]["total"] == 121


def test_create_user_answers_the_same_and_stores_both(
    handlers: dict[str, Any], db_engine: Engine
) -> None:
    bodies = {
        name: {"email": f" {name.upper()}.Bench@Example.com ", "full_name": "Zoë Bench"}
        for name in handlers
    }

    answers = {
        name: answer(handler, as_admin("POST", "/users", body=bodies[name]))
        for name, handler in handlers.items()
    }

    app, raw, floor = answers["app"], answers["raw"], answers["floor"]
    assert app[:2] == raw[:2] == floor[:2] == (201, "application/json")
    for name, (_, _, user) in answers.items():
        assert user["email"] == f"{name}.bench@example.com"
    ignored = (*GENERATED_FIELDS, "email")
    assert (
        {k: v for k, v in app[2].items() if k not in ignored}
        == {k: v for k, v in raw[2].items() if k not in ignored}
        == {k: v for k, v in floor[2].items() if k not in ignored}
    )
    assert app[2].keys() == raw[2].keys() == floor[2].keys()
    with db_engine.connect() as connection:
        stored = connection.scalars(
            text("SELECT email FROM users WHERE id IN (:app, :raw, :floor)"),
            {"app": app[2]["id"], "raw": raw[2]["id"], "floor": floor[2]["id"]},
        ).all()
    assert sorted(stored) == [
        "app.bench@example.com",
        "floor.bench@example.com",
        "raw.bench@example.com",
    ]


def test_create_user_with_a_taken_email_answers_the_same_409(handlers: dict[str, Any]) -> None:
    event = as_admin("POST", "/users", body={"email": "taken@example.com"})
    assert answer(handlers["app"], event)[0] == 201

    app, raw, floor = (answer(handlers[name], event) for name in ("app", "raw", "floor"))

    assert app == raw == floor
    assert app[:2] == (409, "application/problem+json")


def stack_floor_handler(name: str) -> Any:
    """A stack floor by name; the cold start's bare stack reads `DATABASE_URL` when imported."""
    if name == "cold bare":
        from bench import bare_stack_app

        return bare_stack_app.handler
    return stack_handler.handler if name == "stack" else stack_handler.bare_handler


def caller_and_path(db_engine: Engine, caller_type: str, path: str) -> tuple[str, str]:
    """A new caller's subject, and `path` with `{other}` (a customer) and `{self}` filled in."""
    other = insert_user(db_engine, email="other@example.com", user_type="customer", subject=None)
    subject = f"{caller_type}-subject"
    own = (
        insert_user(db_engine, email="me@example.com", user_type=caller_type, subject=subject)
        if caller_type != "unregistered"
        else uuid.uuid4()
    )
    return subject, path.format(other=other, self=own)


@pytest.mark.parametrize(
    ("caller_type", "method", "path", "body"),
    [
        ("customer", "GET", "/users/{other}", None),
        ("customer", "GET", "/users/{self}", None),
        ("staff", "GET", "/users/{other}", None),
        ("customer", "GET", "/users", None),
        ("staff", "GET", "/users", None),
        ("staff", "POST", "/users", {"email": "new@example.com"}),
        ("unregistered", "GET", "/users/{other}", None),
        ("unregistered", "GET", "/users", None),
        ("unregistered", "POST", "/users", {"email": "new@example.com"}),
    ],
)
def test_every_handler_applies_the_same_permissions(
    handlers: dict[str, Any],
    db_engine: Engine,
    caller_type: str,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    subject, path = caller_and_path(db_engine, caller_type, path)
    event = http_api_event(
        method,
        path,
        subject=subject,
        email="me@example.com",
        query={"limit": "5"} if path == "/users" and method == "GET" else None,
        body=body,
    )

    app, raw, floor = (answer(handlers[name], event) for name in ("app", "raw", "floor"))

    assert app == raw == floor
    with db_engine.connect() as connection:
        created = connection.scalar(
            text("SELECT count(*) FROM users WHERE email = 'new@example.com'")
        )
    assert created == (1 if app[0] == 201 else 0)


@pytest.mark.parametrize(
    ("caller_type", "path"),
    [
        ("customer", "/users/{other}"),
        ("customer", "/users/{self}"),
        ("staff", "/users/{other}"),
        ("unregistered", "/users/{other}"),
    ],
)
@pytest.mark.parametrize("stack_floor", ["stack", "bare", "cold bare"])
def test_the_stack_floors_read_a_user_like_the_app(
    handlers: dict[str, Any], db_engine: Engine, caller_type: str, path: str, stack_floor: str
) -> None:
    subject, path = caller_and_path(db_engine, caller_type, path)
    event = http_api_event("GET", path, subject=subject, email="me@example.com")

    app = answer(handlers["app"], event)
    stack = answer(stack_floor_handler(stack_floor), event)

    # Same status; the stack leaves out the app's problem documents, so only a read compares.
    assert stack[0] == app[0]
    if app[0] == 200:
        assert stack == app

"""Round trips to PostgreSQL per request: the app's targets (issue 10), the floor's one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bench import floor_handler, latency_proxy, stack_handler
from bench.events import http_api_event, lambda_context
from bench.round_trips import Recording, recording
from lambda_app.pg_driver import SingleExchangeConnection
from tests.conftest import ADMIN_EMAIL, ADMIN_SUBJECT, insert_user

# (method, path, expected status, most exchanges that run statements, transaction allowed)
# GET /users/{id} and /users/me: 1; GET /users: 2; writes: 2. DELETE: 3 and no transaction:
# the caller and the user, the delete with its outbox task in one statement, then (after S3)
# the task marked done. BEGIN/COMMIT only where a transaction is needed.
TARGETS = {
    "get_user": ("GET", "/users/{other}", 200, 1, False),
    "get_me": ("GET", "/users/me", 200, 1, False),
    "list_users": ("GET", "/users", 200, 2, False),
    "create_user": ("POST", "/users", 201, 2, False),
    "register_me": ("POST", "/users/me", 201, 2, False),
    "update_user": ("PATCH", "/users/{other}", 200, 2, False),
    "delete_user": ("DELETE", "/users/{other}", 204, 3, False),
}
BODIES: dict[str, dict[str, str]] = {
    "create_user": {"email": "created@example.com"},
    "update_user": {"full_name": "Renamed"},
}
NEWCOMER_SUBJECT = "newcomer-subject"


@pytest.fixture
def app_handler(admin: dict[str, Any], s3: Any) -> Any:
    from lambda_app.handler import handler

    return handler


def _event(route: str, other: str) -> dict[str, Any]:
    method, path, *_ = TARGETS[route]
    subject, email = ADMIN_SUBJECT, ADMIN_EMAIL
    if route == "register_me":
        subject, email = NEWCOMER_SUBJECT, "newcomer@example.com"
    return http_api_event(
        method, path.format(other=other), subject=subject, email=email, body=BODIES.get(route)
    )


def _record(handler: Any, event: dict[str, Any], status: int) -> Recording:
    with recording() as recorded:
        response = handler(event, lambda_context())
    assert response["statusCode"] == status, response["body"]
    return recorded


def _begins(recorded: Recording) -> int:
    return sum(
        statement.lower().startswith("begin")
        for exchange in recorded.exchanges
        for statement in exchange.statements
    )


@pytest.mark.parametrize("route", TARGETS)
def test_the_app_meets_its_round_trip_target(
    route: str, app_handler: Any, db_engine: Engine
) -> None:
    other = insert_user(db_engine, email="other@example.com", user_type="customer", subject=None)
    app_handler(http_api_event("GET", "/users/me", subject=ADMIN_SUBJECT, email=ADMIN_EMAIL), None)
    _, _, status, most, transaction = TARGETS[route]

    recorded = _record(app_handler, _event(route, other), status)

    working = [e for e in recorded.exchanges if not e.only_transaction_control]
    described = "\n".join(recorded.describe())
    assert len(working) <= most, f"{route}: {recorded.round_trips} round trips\n{described}"
    if not transaction:
        assert _begins(recorded) == 0, f"{route} opened a transaction\n{described}"
    # A transaction's BEGIN rides with its first statement; only the COMMIT costs its own.
    assert recorded.round_trips <= most + (1 if transaction else 0), described


@pytest.fixture
def floor(admin: dict[str, Any]) -> Iterator[Any]:
    floor_handler.close_connection()  # opened again on the test database
    yield floor_handler.handler
    floor_handler.close_connection()


@pytest.mark.parametrize("route", ["get_user", "list_users", "create_user"])
def test_the_floor_answers_every_route_in_one_round_trip(
    route: str, floor: Any, db_engine: Engine
) -> None:
    other = insert_user(db_engine, email="other@example.com", user_type="customer", subject=None)
    floor(_event("get_user", other), None)  # connection open

    recorded = _record(floor, _event(route, other), TARGETS[route][2])

    assert recorded.round_trips == 1
    assert recorded.exchanges[0].messages == ["Parse", "Bind", "Describe", "Execute", "Sync"]


@pytest.mark.parametrize(
    "stack_floor", [stack_handler.handler, stack_handler.bare_handler], ids=["stack", "bare"]
)
def test_the_stack_floors_read_a_user_in_one_round_trip(
    app_handler: Any, db_engine: Engine, stack_floor: Any
) -> None:
    other = insert_user(db_engine, email="other@example.com", user_type="customer", subject=None)
    event = _event("get_user", other)
    stack_floor(event, None)  # connection open

    recorded = _record(stack_floor, event, 200)

    assert recorded.round_trips == 1
    assert recorded.exchanges[0].messages == ["Parse", "Bind", "Describe", "Execute", "Sync"]


def _connect(url: str, host: str, port: int) -> SingleExchangeConnection:
    parsed = make_url(url)
    connection = SingleExchangeConnection(
        user=parsed.username,
        password=parsed.password,
        host=host,
        port=port,
        database=parsed.database,
    )
    connection.autocommit = True
    return connection


@pytest.mark.parametrize("delay_ms", [0.0, 0.5])
def test_the_latency_proxy_relays_statements_and_large_answers(
    database_url: str, delay_ms: float
) -> None:
    parsed = make_url(database_url)
    words = [f"word-{n}-" + "x" * 100 for n in range(3_000)]  # both ways over a chunk

    with latency_proxy.running(parsed.host or "127.0.0.1", parsed.port or 5432, delay_ms) as (
        host,
        port,
    ):
        connection = _connect(database_url, host, port)
        cursor = connection.cursor()
        cursor.execute("SELECT w FROM unnest(%s::text[]) AS w", (words,))
        echoed = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT %s::int + 1", (41,))
        answer = cursor.fetchone()
        connection.close()

    assert echoed == words
    assert answer == [42]

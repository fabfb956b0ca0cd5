"""The pinning guard sees what the API's connections send, and flags what would pin them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from lambda_app.config import get_settings
from lambda_app.db import create_engine_from_settings
from tests.pooler.statement_log import SentStatement, StatementRecorder


def sent(sql: str, statement_name: str = "") -> SentStatement:
    return SentStatement(sql, "query", statement_name, test=None, request_id=None)


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SET work_mem = '8MB'", "SET"),
        ("set session characteristics as transaction isolation level read committed", "SET"),
        ("SET SESSION AUTHORIZATION other", "SET"),
        ("BEGIN; SET statement_timeout = 0", "SET"),
        ("RESET ALL", "RESET"),
        ("PREPARE find AS SELECT 1", "PREPARE"),
        ("DISCARD ALL", "DISCARD"),
        ("LISTEN users_changed", "LISTEN"),
        ("SELECT pg_advisory_lock(42)", "session advisory lock"),
        ("SELECT pg_try_advisory_lock_shared(1, 2)", "session advisory lock"),
        ("SELECT set_config('search_path', 'x', false)", "session set_config"),
        ("CREATE TEMP TABLE scratch (id int)", "CREATE TEMP"),
        ("create local temporary table scratch (id int)", "CREATE TEMP"),
        ("DECLARE c CURSOR WITH HOLD FOR SELECT 1", "DECLARE ... WITH HOLD"),
        ("/* why */ SET search_path = public", "SET"),
    ],
)
def test_statements_that_pin_are_flagged(sql: str, reason: str) -> None:
    assert sent(sql).pinning_reason() == reason


@pytest.mark.parametrize(
    "sql",
    [
        "BEGIN",
        "SELECT * FROM users WHERE id = $1",
        "SET LOCAL lock_timeout = '2s'",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
        "SELECT pg_advisory_xact_lock(42)",
        "SELECT set_config('app.user', 'x', true)",
        "DECLARE c CURSOR FOR SELECT 1",
        "UPDATE users SET full_name = $1 WHERE id = $2",
        "SELECT 'SET x = 1' AS text",
        "-- SET work_mem = '1GB'\nSELECT 1",
    ],
)
def test_statements_that_end_with_their_transaction_are_not_flagged(sql: str) -> None:
    assert sent(sql).pinning_reason() is None


def test_a_named_protocol_level_statement_is_flagged() -> None:
    assert sent("SELECT 1", "pg8000_statement_1").pinning_reason() == (
        "named prepared statement 'pg8000_statement_1'"
    )


def mine(recorder: StatementRecorder, request: pytest.FixtureRequest) -> list[SentStatement]:
    return [s for s in recorder.pinning() if s.test == request.node.nodeid]


@pytest.fixture
def app_engine(app_env: dict[str, str]) -> Any:
    """An engine built the way the API builds its own, as the API's role and pooler."""
    engine = create_engine_from_settings(get_settings(), autocommit=True)
    yield engine
    engine.dispose()


def test_the_guard_flags_a_set_sent_on_purpose_with_this_test(
    app_engine: Engine, pinning_guard: StatementRecorder, request: pytest.FixtureRequest
) -> None:
    with app_engine.connect() as connection:
        # Inside a transaction that is rolled back, so nothing is left on the server session.
        connection.exec_driver_sql("BEGIN")
        connection.exec_driver_sql("SET work_mem = '8MB'")
        connection.exec_driver_sql("ROLLBACK")

    flagged = mine(pinning_guard, request)
    pinning_guard.forget(flagged)  # sent on purpose: the session's guard stays green

    assert [(s.sql, s.pinning_reason()) for s in flagged] == [("SET work_mem = '8MB'", "SET")]
    assert f"in {request.node.nodeid}, outside any request" in pinning_guard.describe(flagged[0])


def test_the_guard_sees_what_the_dialect_sends_outside_cursor_events(
    app_engine: Engine, pinning_guard: StatementRecorder, request: pytest.FixtureRequest
) -> None:
    # Switching an engine's isolation level makes SQLAlchemy's dialect send a session SET.
    # READ COMMITTED is the server's default, so the session it leaves behind is unchanged.
    with app_engine.execution_options(isolation_level="READ COMMITTED").connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        connection.rollback()

    flagged = mine(pinning_guard, request)
    pinning_guard.forget(flagged)

    assert any(
        s.sql.upper().startswith("SET SESSION CHARACTERISTICS AS TRANSACTION") for s in flagged
    ), flagged


def test_the_guard_flags_a_named_prepared_statement(
    app_engine: Engine, pinning_guard: StatementRecorder, request: pytest.FixtureRequest
) -> None:
    with app_engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        connection.exec_driver_sql("BEGIN")  # one server connection from Parse to Close
        statement = raw.prepare_statement("SELECT 1", [])
        raw.close_prepared_statement(statement[0])
        connection.exec_driver_sql("ROLLBACK")

    flagged = mine(pinning_guard, request)
    pinning_guard.forget(flagged)

    assert [s.pinning_reason() for s in flagged] == [
        f"named prepared statement {statement[0][:-1].decode()!r}"
    ]


def test_the_guard_records_the_requests_statements_and_their_route(
    client: TestClient,
    make_user: Any,
    pinning_guard: StatementRecorder,
    request: pytest.FixtureRequest,
) -> None:
    user = make_user()

    response = client.get(f"/users/{user['id']}", headers={"X-Request-ID": "guard-probe-0001"})

    assert response.status_code == 200
    statements = [s for s in pinning_guard.statements if s.request_id == "guard-probe-0001"]
    assert statements, "the request's statements were not recorded"
    assert all(s.test == request.node.nodeid for s in statements)
    assert any("FROM users" in s.sql for s in statements)
    probe = SentStatement("SET x = 1", "query", "", request.node.nodeid, "guard-probe-0001")
    assert "request GET /users/{user_id} (id guard-probe-0001)" in pinning_guard.describe(probe)

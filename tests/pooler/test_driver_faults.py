"""The app's engine after driver faults: its pooled connection answers its own statements next.

Each test runs `lambda_app.db`'s engine with a pool of one connection, as the API's role,
straight to PostgreSQL and through PgBouncer in transaction mode with one server connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError as InterfaceErrorWrapper

from lambda_app.db import get_engine, is_dead_connection, transaction
from lambda_app.models.tables import users
from lambda_app.pg_driver import MAX_PARAMETERS, SingleExchangeConnection, TooManyParametersError
from tests.conftest import APP_DB_ROLE, as_app_role, settings_env
from tests.pg_driver.connections import Canceller, FailingReads, run
from tests.pg_driver.fault_values import (
    BEGIN_REFUSED,
    BEGIN_SENT,
    BYTEA_VALUES,
    DECODE_FAULTS,
    NOTIFY_PAYLOAD,
    with_parameter,
)
from tests.pooler.conftest import StartPooler
from tests.pooler.statement_log import StatementRecorder
from tests.resetting_relay import resetting_relay

LEGS = ["direct", "pgbouncer"]


@pytest.fixture(params=LEGS)
def app_url(
    request: pytest.FixtureRequest,
    app_env: dict[str, str],
    database_url: str,
    start_pooler: StartPooler,
) -> Iterator[str]:
    """The API role's URL: straight to the test database, or through a PgBouncer of its own."""
    url = as_app_role(database_url)
    pooler: AbstractContextManager[Any] = (
        start_pooler(1) if request.param == "pgbouncer" else nullcontext()
    )
    with pooler as bouncer:
        yield url if bouncer is None else bouncer.url_for(url)


@contextmanager
def app_engine_on(url: str) -> Iterator[Engine]:
    """`lambda_app.db`'s engine on `url`, one pooled connection and no overflow."""
    with settings_env(DATABASE_URL=url, DB_POOL_SIZE="1", DB_MAX_OVERFLOW="0"):
        yield get_engine()


def own_answers(connection: Connection, n: int) -> bool:
    """Tell whether the next statements, with and without parameters, get their own rows."""
    with_parameters = connection.exec_driver_sql("SELECT %s::int, 'mine'", (n,)).one()
    without = connection.exec_driver_sql(f"SELECT {n}, 'also mine'").one()
    return (tuple(with_parameters), tuple(without)) == ((n, "mine"), (n, "also mine"))


@pytest.mark.parametrize("protocol", ["simple", "extended"])
@pytest.mark.parametrize(("sql", "fault"), DECODE_FAULTS)
def test_the_pooled_connection_answers_its_own_statements_after_a_decode_fault(
    app_url: str, sql: str, fault: type[Exception], protocol: str
) -> None:
    statement, args = with_parameter(sql) if protocol == "extended" else (sql, ())

    with app_engine_on(app_url) as engine:
        with engine.connect() as connection:
            pooled = connection.connection.dbapi_connection
            with pytest.raises(fault):
                connection.exec_driver_sql(statement, args)
            assert own_answers(connection, 1)
        with engine.connect() as connection:  # the pool's one connection, handed out again
            assert connection.connection.dbapi_connection is pooled
            assert own_answers(connection, 2)


def test_bytea_in_escape_format_reads_right_through_the_engine(app_url: str) -> None:
    # set_config(..., true) lasts as long as the statement's transaction: nothing pins.
    sql = "SELECT set_config('bytea_output', 'escape', true), %s::bytea, %s::bytea[]"

    with app_engine_on(app_url) as engine, engine.connect() as connection:
        row = connection.exec_driver_sql(sql, (BYTEA_VALUES[0], list(BYTEA_VALUES))).one()
        assert tuple(row) == ("escape", BYTEA_VALUES[0], list(BYTEA_VALUES))
        assert own_answers(connection, 3)


def test_a_notification_on_the_pooled_connection_leaves_it_in_step(
    as_app: str, pinning_guard: StatementRecorder, request: pytest.FixtureRequest
) -> None:
    with app_engine_on(as_app) as engine, engine.connect() as connection:
        connection.exec_driver_sql("LISTEN driver_faults")
        connection.exec_driver_sql("SELECT pg_notify('driver_faults', %s)", (NOTIFY_PAYLOAD,))
        assert own_answers(connection, 4)
        notifications = connection.connection.dbapi_connection.notifications
        connection.exec_driver_sql("UNLISTEN driver_faults")
    # LISTEN pins: sent here on purpose, on a connection that goes with the engine.
    pinning_guard.forget([s for s in pinning_guard.pinning() if s.test == request.node.nodeid])

    assert [payload for _, _, payload in notifications] == [NOTIFY_PAYLOAD]


def test_a_notification_for_another_client_of_the_pooler_leaves_the_app_in_step(
    start_pooler: StartPooler, as_app: str
) -> None:
    with start_pooler(1) as pooler:
        # Another client listens on the pooler's one server connection, then lets it go: the
        # next client on it receives what is sent to that channel.
        listener = connect(pooler.url_for(as_app))
        run(listener, "LISTEN driver_faults")
        with app_engine_on(pooler.url_for(as_app)) as engine, engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_notify('driver_faults', %s)", (NOTIFY_PAYLOAD,))
            assert own_answers(connection, 5)
        listener.close()


@pytest.fixture
def as_app(app_env: dict[str, str], database_url: str) -> str:
    """The API role's URL, straight to the test database."""
    return as_app_role(database_url)


def connect(url: str) -> Any:
    """A driver connection in autocommit to `url`."""
    parsed = make_url(url)
    connection = SingleExchangeConnection(
        user=parsed.username,
        password=parsed.password,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
    )
    connection.autocommit = True
    return connection


def test_a_connection_that_lost_step_is_dropped_by_the_pool(app_url: str) -> None:
    with app_engine_on(app_url) as engine:
        with engine.connect() as connection:
            lost = connection.connection.dbapi_connection
            # Reads fail in the middle of the next answer's first message: no way back in step.
            lost._sock = FailingReads(lost._sock, RuntimeError("injected"), after=1)
            with pytest.raises(DBAPIError) as caught:
                connection.exec_driver_sql("SELECT %s::int", (1,))
            assert caught.value.connection_invalidated
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is not lost
            assert own_answers(connection, 8)


# --- A transaction whose BEGIN fails applies nothing: `db.transaction()`, INSERT then UPDATE.

INSERT_USER = text("INSERT INTO users (email) VALUES (:email)")
NAME_USER = text("UPDATE users SET full_name = 'named' WHERE email = :email")


def insert_then_name(connection: Connection, email: str) -> None:
    """The two writes of one transaction."""
    with transaction(connection):
        connection.execute(INSERT_USER, {"email": email})
        connection.execute(NAME_USER, {"email": email})


def written(db_engine: Engine, prefix: str) -> dict[str, str | None]:
    """The users whose email starts with `prefix`, and their full names."""
    with db_engine.connect() as connection:
        rows = connection.execute(
            text("SELECT email, full_name FROM users WHERE email LIKE :prefix"),
            {"prefix": prefix + "%"},
        )
        return {row.email: row.full_name for row in rows}


def test_a_transaction_whose_begin_fails_applies_nothing(app_url: str, db_engine: Engine) -> None:
    url = make_url(app_url)
    with resetting_relay(url.host or "127.0.0.1", url.port or 5432) as relay:
        relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(False)
        with app_engine_on(relayed) as engine, engine.connect() as connection:
            relay.rewrite_requests(BEGIN_SENT, BEGIN_REFUSED)
            with pytest.raises(DBAPIError) as caught:
                insert_then_name(connection, "refused-begin@example.com")
            relay.stop_rewriting()
            assert own_answers(connection, 6)

    assert "42601" in str(caught.value.orig)
    assert written(db_engine, "refused-begin") == {}


CANCEL_RACE_FAILURES = 300
CANCEL_RACE_ATTEMPTS = 20_000


@contextmanager
def statements_logged(db_engine: Engine) -> Iterator[None]:
    """New sessions of the API's role log each statement before running it (and no more after).

    A cancel then lands in a BEGIN far more often, as on a busy server.
    """
    role = text(f'ALTER ROLE "{APP_DB_ROLE}" IN DATABASE "{db_engine.url.database}" ')
    with db_engine.begin() as connection:
        connection.execute(text(str(role) + "SET log_statement = 'all'"))
    try:
        yield
    finally:
        with db_engine.begin() as connection:
            connection.execute(text(str(role) + "RESET log_statement"))


def test_no_transaction_that_failed_under_cancels_applied_either_write(
    app_url: str, db_engine: Engine, database_url: str
) -> None:
    failed: list[str] = []
    committed: list[str] = []
    watchdog, stopper = connect(database_url), connect(database_url)

    with (
        statements_logged(db_engine),
        app_engine_on(app_url) as engine,
        engine.connect() as connection,
    ):
        # Through the pooler too: its one server connection is the one that runs everything.
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with Canceller(watchdog, stopper, pid):
            for n in range(CANCEL_RACE_ATTEMPTS):
                email = f"race-{n}@example.com"
                try:
                    insert_then_name(connection, email)
                except DBAPIError:
                    failed.append(email)
                    if len(failed) == CANCEL_RACE_FAILURES:
                        break
                else:
                    committed.append(email)
    watchdog.close()
    stopper.close()

    applied = written(db_engine, "race-")
    assert len(failed) == CANCEL_RACE_FAILURES, "the watchdog cancelled too little to tell"
    assert sorted(set(applied) & set(failed)) == []
    assert sorted(email for email, name in applied.items() if name is None) == []
    assert sorted(applied) == sorted(committed)


# --- More parameters than the protocol counts.


def test_too_many_parameters_is_a_driver_error_that_keeps_the_connection(app_url: str) -> None:
    # An IN list is one parameter per value (SQLAlchemy's expanding IN), as in If-Match's.
    statement = select(func.count()).where(users.c.version.in_(range(MAX_PARAMETERS + 1)))

    with app_engine_on(app_url) as engine, engine.connect() as connection:
        pooled = connection.connection.dbapi_connection
        with pytest.raises(InterfaceErrorWrapper) as caught:
            connection.execute(statement)
        assert isinstance(caught.value.orig, TooManyParametersError)
        assert not is_dead_connection(caught.value)
        assert not connection.invalidated
        assert own_answers(connection, 7)
        assert connection.connection.dbapi_connection is pooled

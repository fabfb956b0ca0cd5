"""The held-back BEGIN: sent in its statement's Sync batch, so a failed BEGIN applies nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pg8000 import core
from pg8000.exceptions import DatabaseError, InterfaceError

from bench.round_trips import recording
from lambda_app.pg_driver import MAX_PARAMETERS, TooManyParametersError
from tests.pg_driver.connections import (
    Canceller,
    Connect,
    answers_its_own_statements,
    rolled_back,
    run,
    sqlstate,
)
from tests.pg_driver.fault_values import BEGIN_REFUSED, BEGIN_SENT
from tests.resetting_relay import ResettingRelay


@pytest.fixture
def relayed_transaction(
    relayed: tuple[ResettingRelay, Connect],
) -> Iterator[tuple[ResettingRelay, Any]]:
    """A connection out of autocommit through the relay, with an empty table `notes`."""
    relay, open_connection = relayed
    connection = open_connection()
    run(connection, "CREATE TEMPORARY TABLE notes (n int)")
    connection.autocommit = False
    yield relay, connection
    relay.stop_rewriting()


STATEMENTS_AFTER_BEGIN = [
    pytest.param("INSERT INTO notes VALUES (%s)", (1,), id="with parameters"),
    pytest.param("INSERT INTO notes VALUES (1)", (), id="without parameters"),
    pytest.param(
        "INSERT INTO notes VALUES (1); INSERT INTO notes VALUES (2)", (), id="several statements"
    ),
]


@pytest.mark.parametrize(("sql", "args"), STATEMENTS_AFTER_BEGIN)
def test_a_statement_after_a_failed_begin_applies_nothing(
    relayed_transaction: tuple[ResettingRelay, Any], sql: str, args: Any
) -> None:
    relay, connection = relayed_transaction
    relay.rewrite_requests(BEGIN_SENT, BEGIN_REFUSED)

    with pytest.raises(DatabaseError) as caught:
        run(connection, sql, args)
    relay.stop_rewriting()
    connection.rollback()

    assert sqlstate(caught.value) == "42601"
    assert connection._transaction_status == core.IDLE
    assert run(connection, "SELECT count(*) FROM notes")[0] == ([0],)
    assert answers_its_own_statements(connection)


def test_a_commit_after_a_failed_begin_is_an_error(
    relayed_transaction: tuple[ResettingRelay, Any],
) -> None:
    relay, connection = relayed_transaction
    connection.execute_simple("begin transaction")  # held back, as Cursor.execute does
    relay.rewrite_requests(BEGIN_SENT, BEGIN_REFUSED)

    with pytest.raises(DatabaseError) as caught:
        connection.commit()

    assert sqlstate(caught.value) == "42601"
    assert not connection._in_transaction


def test_the_begin_rides_in_its_statements_sync_batch(opened: Connect) -> None:
    connection = opened(autocommit=False)

    with recording() as recorded:
        run(connection, "SELECT %s::int", (1,))
        connection.rollback()
        run(connection, "SELECT 1")
        connection.rollback()
        run(connection, "SELECT 1; SELECT 2")
        connection.rollback()

    begin_and_statement = ["Parse", "Bind", "Execute", "Parse", "Bind", "Describe", "Execute"]
    assert [exchange.messages for exchange in recorded.exchanges] == [
        [*begin_and_statement, "Sync"],
        ["Parse", "Bind", "Describe", "Execute", "Sync"],  # rollback
        [*begin_and_statement, "Sync"],  # one statement: extended protocol, one batch
        ["Parse", "Bind", "Describe", "Execute", "Sync"],
        ["Parse", "Bind", "Execute", "Sync"],  # maybe several: the BEGIN alone first
        ["Query"],
        ["Parse", "Bind", "Describe", "Execute", "Sync"],
    ]


CANCEL_RACE_FAILURES = 100  # failed transactions to see before concluding
CANCEL_RACE_ATTEMPTS = 50_000


def test_no_transaction_that_failed_under_cancels_applied_anything(opened: Connect) -> None:
    connection, watchdog, stopper = opened(autocommit=False), opened(), opened()
    # Logged before it runs, each statement gives a cancel more time to land in its BEGIN, as
    # on a busy server: the form that sent the BEGIN alone then applied about one failed
    # transaction in six (one in twenty without the log).
    run(connection, "SET log_statement = 'all'")
    run(connection, "CREATE TEMPORARY TABLE notes (n int) ON COMMIT PRESERVE ROWS")
    connection.commit()
    pid = run(connection, "SELECT pg_backend_pid()")[0][0][0]
    connection.commit()
    failed: list[int] = []
    committed: list[int] = []

    with Canceller(watchdog, stopper, pid):
        for n in range(CANCEL_RACE_ATTEMPTS):
            try:
                run(connection, "INSERT INTO notes VALUES (%s)", (n,))
                connection.commit()
            except (DatabaseError, InterfaceError):
                failed.append(n)
                rolled_back(connection)
                if len(failed) == CANCEL_RACE_FAILURES:
                    break
            else:
                committed.append(n)

    applied = {row[0] for row in run(connection, "SELECT n FROM notes")[0]}
    connection.commit()
    assert len(failed) == CANCEL_RACE_FAILURES, "the watchdog cancelled too little to tell"
    assert sorted(applied & set(failed)) == []
    assert applied == set(committed)


# --- pg8000's own prepared statements, and statements with too many parameters.


def test_a_prepared_statement_runs_in_the_held_back_transaction(opened: Connect) -> None:
    connection = opened(autocommit=False)
    run(connection, "CREATE TEMPORARY TABLE notes (n int) ON COMMIT PRESERVE ROWS")
    connection.commit()
    connection.execute_simple("begin transaction")  # held back; as after a refused statement
    insert = connection.prepare("INSERT INTO notes VALUES (:n)")

    insert.run(n=1)
    in_transaction = connection._transaction_status
    connection.rollback()
    insert.close()

    assert in_transaction == core.IN_TRANSACTION
    assert run(connection, "SELECT count(*) FROM notes")[0] == ([0],)


def many(count: int) -> tuple[str, tuple[int, ...]]:
    """A statement with `count` parameters."""
    return "SELECT cardinality(ARRAY[" + ", ".join(["%s"] * count) + "]::int[])", tuple(
        range(count)
    )


def test_more_parameters_than_the_protocol_counts_is_a_clear_interface_error(
    opened: Connect,
) -> None:
    connection = opened()

    with recording() as recorded, pytest.raises(InterfaceError) as caught:
        run(connection, *many(MAX_PARAMETERS + 1))

    assert isinstance(caught.value, TooManyParametersError)
    assert str(caught.value) == "a statement takes at most 65,535 parameters; this one has 65,536"
    assert recorded.round_trips == 0
    assert run(connection, *many(MAX_PARAMETERS))[0] == ([MAX_PARAMETERS],)


def test_a_statement_refused_for_its_parameters_keeps_the_begin_for_the_next(
    opened: Connect,
) -> None:
    connection = opened(autocommit=False)
    run(connection, "CREATE TEMPORARY TABLE notes (n int) ON COMMIT PRESERVE ROWS")
    connection.commit()

    with pytest.raises(TooManyParametersError):
        run(connection, *many(MAX_PARAMETERS + 1))
    run(connection, "INSERT INTO notes VALUES (%s)", (1,))
    connection.rollback()

    assert run(connection, "SELECT count(*) FROM notes")[0] == ([0],)

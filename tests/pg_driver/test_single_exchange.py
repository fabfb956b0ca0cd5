"""SingleExchangeConnection: stock pg8000's answers, one exchange per statement."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pg8000
import pg8000.legacy
import pytest
from pg8000 import core
from pg8000.exceptions import DatabaseError, InterfaceError
from sqlalchemy import create_engine, exc, text

from lambda_app.pg_driver import IMPLICIT_BEGIN, SingleExchangeConnection
from tests.pg_driver.connections import Connect, counted, run, sqlstate
from tests.resetting_relay import ResettingRelay

TYPED_QUERY = (
    "SELECT %s::uuid AS id, %s::timestamptz AS at, %s::text AS name, %s::int AS small, "
    "%s::bigint AS big, %s::numeric AS amount, %s::bool AS flag, %s::text AS missing, "
    "%s::user_type AS kind, ARRAY[%s, %s]::user_type[] AS kinds, %s::int[] AS numbers, "
    "%s::text[] AS words, now() - now() AS span, '{}'::jsonb AS doc, NULL AS nothing"
)
TYPED_ARGS = (
    uuid.UUID("6f1c1a52-2b4e-4e0c-9d1b-3e0e7e3c9a10"),
    "2024-02-29 23:59:59.123456+05:30",
    "Zoë \u2603 O'Brien",
    -7,
    2**62,
    Decimal("12345678901234567890.000001"),
    True,
    None,
    "staff",
    "admin",
    "customer",
    [1, None, 3],
    ["a", "b,c", ""],
)


def test_results_and_types_are_stock_pg8000s(opened: Connect) -> None:
    stock, single = opened(pg8000.Connection), opened()

    expected = run(stock, TYPED_QUERY, TYPED_ARGS)
    answered = run(single, TYPED_QUERY, TYPED_ARGS)

    assert answered == expected
    row = answered[0][0]
    assert [type(value).__name__ for value in row] == [
        "UUID",
        "datetime",
        "str",
        "int",
        "int",
        "Decimal",
        "bool",
        "NoneType",
        "str",
        "str",  # an array of an enum: pg8000 knows not its oid, and hands over the text
        "list",
        "list",
        "timedelta",
        "dict",
        "NoneType",
    ]


def test_statements_without_rows_are_stock_pg8000s(opened: Connect) -> None:
    stock, single = opened(pg8000.Connection), opened()
    for connection in (stock, single):
        run(connection, "CREATE TEMPORARY TABLE notes (n int, body text)")

    for connection in (stock, single):
        assert run(connection, "INSERT INTO notes VALUES (%s, %s), (2, 'b')", (1, "a")) == (
            None,
            None,
            2,
        )
        assert run(connection, "UPDATE notes SET body = %s WHERE n > %s", ("z", 0))[2] == 2
        assert run(connection, "SELECT * FROM notes WHERE n = %s", (9,))[0] == ()
        assert run(connection, "DELETE FROM notes WHERE n = %s", (1,))[2] == 1


def test_every_statement_is_one_exchange_in_autocommit(opened: Connect) -> None:
    connection = opened()
    counter = counted(connection)

    run(connection, "SELECT %s::int + 1", (1,))
    run(connection, "SELECT 1")
    run(connection, TYPED_QUERY, TYPED_ARGS)

    assert (counter.round_trips, counter.flushes) == (3, 3)


def test_stock_pg8000_needs_three_exchanges_per_statement(opened: Connect) -> None:
    connection = opened(pg8000.Connection)
    counter = counted(connection)

    run(connection, "SELECT %s::int + 1", (1,))

    assert counter.round_trips == 3


def test_a_transaction_costs_one_exchange_per_statement_and_one_for_commit(
    opened: Connect,
) -> None:
    connection = opened(autocommit=False)
    run(connection, "CREATE TEMPORARY TABLE notes (n int) ON COMMIT PRESERVE ROWS")
    connection.commit()
    counter = counted(connection)

    run(connection, "INSERT INTO notes VALUES (%s)", (1,))  # BEGIN rides with it
    assert connection._transaction_status == core.IN_TRANSACTION
    run(connection, "INSERT INTO notes VALUES (%s)", (2,))
    connection.commit()

    assert counter.round_trips == 3
    assert run(connection, "SELECT count(*) FROM notes")[0] == ([2],)


def test_rollback_undoes_the_transaction(opened: Connect) -> None:
    connection = opened(autocommit=False)
    run(connection, "CREATE TEMPORARY TABLE notes (n int) ON COMMIT PRESERVE ROWS")
    connection.commit()

    run(connection, "INSERT INTO notes VALUES (%s)", (1,))
    connection.rollback()
    rows = run(connection, "SELECT count(*) FROM notes")[0]
    connection.commit()

    assert rows == ([0],)
    assert connection._transaction_status == core.IDLE


def test_a_held_back_begin_is_sent_by_commit_and_rollback(opened: Connect) -> None:
    connection = opened(autocommit=False)
    counter = counted(connection)

    connection.execute_simple(IMPLICIT_BEGIN)
    assert connection._in_transaction
    connection.rollback()
    connection.execute_simple(IMPLICIT_BEGIN)
    connection.commit()

    assert counter.round_trips == 2
    assert connection._transaction_status == core.IDLE
    assert not connection._in_transaction


def test_a_statement_without_parameters_carries_the_begin_too(opened: Connect) -> None:
    connection = opened(autocommit=False)
    counter = counted(connection)

    rows = run(connection, "SELECT txid_current_if_assigned() IS NULL, now() = now()")[0]
    connection.rollback()

    assert rows == ([True, True],)
    assert counter.round_trips == 2


def test_the_transaction_spans_statements(opened: Connect) -> None:
    connection = opened(autocommit=False)

    first = run(connection, "SELECT %s::int, txid_current()", (1,))[0][0][1]
    second = run(connection, "SELECT txid_current()")[0][0][0]
    connection.commit()
    third = run(connection, "SELECT %s::int, txid_current()", (1,))[0][0][1]
    connection.commit()

    assert first == second != third


ERRORS = [
    pytest.param("SELEC %s", (1,), "42601", id="syntax error at Parse"),
    pytest.param("SELECT %s::uuid", ("not-a-uuid",), "22P02", id="bad input at Bind"),
    pytest.param("SELECT 1 / %s::int", (0,), "22012", id="division by zero at Execute"),
    pytest.param("SELECT pg_sleep(%s)", (2,), "57014", id="statement timeout at Execute"),
    pytest.param(
        "SELECT * FROM generate_series(1, 3) g WHERE 1 / (g - %s) > 0",
        (2,),
        "22012",
        id="error after the first row",
    ),
    pytest.param("SELECT no_such_column FROM users WHERE id = %s", (1,), "42703", id="bad column"),
]


@pytest.mark.parametrize(("sql", "args", "state"), ERRORS)
def test_errors_are_stock_pg8000s_and_the_connection_stays_usable(
    opened: Connect, sql: str, args: Any, state: str
) -> None:
    stock, single = opened(pg8000.Connection), opened()
    raised: list[BaseException] = []
    for connection in (stock, single):
        run(connection, "SET statement_timeout = '100ms'")
        with pytest.raises(DatabaseError) as caught:
            run(connection, sql, args)
        raised.append(caught.value)

    assert type(raised[1]) is type(raised[0]) is pg8000.ProgrammingError
    assert [sqlstate(error) for error in raised] == [state, state]
    assert raised[1].args[0]["M"] == raised[0].args[0]["M"]
    assert run(single, "SELECT %s::text", ("still here",))[0] == (["still here"],)


def test_a_constraint_violation_leaves_the_connection_usable(opened: Connect) -> None:
    connection = opened()
    run(connection, "CREATE TEMPORARY TABLE notes (n int PRIMARY KEY)")
    run(connection, "INSERT INTO notes VALUES (%s)", (1,))

    with pytest.raises(pg8000.IntegrityError) as caught:
        run(connection, "INSERT INTO notes VALUES (%s)", (1,))

    assert sqlstate(caught.value) == "23505"
    assert run(connection, "INSERT INTO notes VALUES (%s) RETURNING n", (2,))[0] == ([2],)


def test_a_failed_transaction_refuses_statements_until_rolled_back(opened: Connect) -> None:
    stock, single = opened(pg8000.Connection, autocommit=False), opened(autocommit=False)
    for connection in (stock, single):
        with pytest.raises(DatabaseError):
            run(connection, "SELECT 1 / %s::int", (0,))
        with pytest.raises(DatabaseError) as caught:
            run(connection, "SELECT %s::int", (1,))
        assert sqlstate(caught.value) == "25P02"
        with pytest.raises(InterfaceError, match="in failed transaction block"):
            connection.commit()  # the server answers ROLLBACK; pg8000 says so
        assert connection._transaction_status == core.IDLE
        assert run(connection, "SELECT %s::int", (3,))[0] == ([3],)
        connection.rollback()


def test_an_error_in_the_first_statement_of_a_transaction_is_reported(opened: Connect) -> None:
    connection = opened(autocommit=False)
    counter = counted(connection)

    with pytest.raises(DatabaseError) as caught:
        run(connection, "SELEC %s", (1,))
    connection.rollback()

    assert sqlstate(caught.value) == "42601"
    assert counter.round_trips == 2
    assert run(connection, "SELECT %s::int", (1,))[0] == ([1],)


def test_many_statements_on_one_connection(opened: Connect) -> None:
    connection = opened()
    counter = counted(connection)

    answers = [run(connection, "SELECT %s::int * 2, %s::text", (n, str(n)))[0] for n in range(500)]

    assert answers == [([n * 2, str(n)],) for n in range(500)]
    assert counter.round_trips == 500


def test_a_large_statement_and_result_come_through(opened: Connect) -> None:
    stock, single = opened(pg8000.Connection), opened()
    words = [f"word-{n}-" + "x" * 50 for n in range(2_000)]  # parameters well over a buffer
    sql = "SELECT w, length(w) FROM unnest(%s::text[]) AS w"

    assert run(single, sql, (words,)) == run(stock, sql, (words,))


def test_a_closed_connection_says_so(opened: Connect) -> None:
    connection = opened()
    connection.close()

    with pytest.raises(InterfaceError, match="connection is closed"):
        run(connection, "SELECT %s::int", (1,))
    with pytest.raises(InterfaceError, match="connection is closed"):
        connection.commit()


def test_a_reset_while_waiting_for_the_answer_is_a_network_error(
    relayed: tuple[ResettingRelay, Connect],
) -> None:
    relay, open_connection = relayed
    connection = open_connection()
    assert run(connection, "SELECT %s::int", (1,))[0] == ([1],)

    relay.reset_on_next_request()

    # "network error" is what SQLAlchemy's pg8000 dialect reads as a lost connection.
    with pytest.raises(InterfaceError, match="network error"):
        run(connection, "SELECT %s::int", (2,))
    assert relay.resets == 1


def test_stock_pg8000_lets_a_reset_on_its_first_read_through_unwrapped(
    relayed: tuple[ResettingRelay, Connect],
) -> None:
    # Why the subclass wraps it: when this starts failing, pg8000 wraps it itself.
    relay, open_connection = relayed
    connection = open_connection(pg8000.Connection)
    relay.reset_on_next_request()

    with pytest.raises(ConnectionResetError):
        run(connection, "SELECT %s::int", (1,))


def test_sqlalchemy_maps_its_errors_as_for_stock_pg8000(connect_args: dict[str, Any]) -> None:
    def engine(cls: type) -> Any:
        return create_engine("postgresql+pg8000://", creator=lambda: cls(**connect_args))

    mapped = []
    for cls in (pg8000.Connection, SingleExchangeConnection):
        with engine(cls).connect() as connection:
            connection.execute(text("CREATE TEMPORARY TABLE notes (n int PRIMARY KEY)"))
            connection.execute(text("INSERT INTO notes VALUES (:n)"), {"n": 1})
            with pytest.raises(exc.DBAPIError) as caught:
                connection.execute(text("INSERT INTO notes VALUES (:n)"), {"n": 1})
            mapped.append(type(caught.value))
            connection.rollback()
            assert connection.execute(text("SELECT CAST(:n AS int)"), {"n": 5}).scalar_one() == 5

    assert mapped == [exc.IntegrityError, exc.IntegrityError]

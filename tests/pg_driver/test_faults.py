"""SingleExchangeConnection after a fault: in step with the server or closed, never behind."""

from __future__ import annotations

import pg8000
import pytest
from pg8000 import core
from pg8000.exceptions import InterfaceError

from tests.pg_driver.connections import Connect, FailingReads, answers_its_own_statements, run
from tests.pg_driver.fault_values import BYTEA_VALUES, DECODE_FAULTS, NOTIFY_PAYLOAD, with_parameter


@pytest.mark.parametrize("protocol", ["simple", "extended"])
@pytest.mark.parametrize(("sql", "fault"), DECODE_FAULTS)
def test_a_value_python_cannot_hold_fails_its_statement_and_no_other(
    opened: Connect, sql: str, fault: type[Exception], protocol: str
) -> None:
    connection = opened()
    statement, args = with_parameter(sql) if protocol == "extended" else (sql, ())

    with pytest.raises(fault):
        run(connection, statement, args)

    assert answers_its_own_statements(connection)
    assert connection._transaction_status == core.IDLE


def test_stock_pg8000_falls_one_answer_behind_after_such_a_value(opened: Connect) -> None:
    # Why the subclass reads on: when this starts failing, pg8000 reads on itself.
    connection = opened(pg8000.Connection)
    with pytest.raises(ValueError, match="24:00"):
        run(connection, "SELECT CAST('24:00' AS time)")

    try:
        answer = run(connection, "SELECT %s::text", ("mine",))[0]
    except Exception as error:  # whatever the rest of the last answer makes it raise
        answer = error

    assert answer != (["mine"],)


def test_a_fault_inside_a_transaction_leaves_the_transaction_open(opened: Connect) -> None:
    connection = opened(autocommit=False)
    run(connection, "CREATE TEMPORARY TABLE notes (n int) ON COMMIT PRESERVE ROWS")
    connection.commit()
    run(connection, "INSERT INTO notes VALUES (%s)", (1,))

    with pytest.raises(ValueError, match="24:00"):
        run(connection, *with_parameter("SELECT CAST('24:00' AS time)"))

    assert connection._transaction_status == core.IN_TRANSACTION
    assert run(connection, "SELECT count(*) FROM notes")[0] == ([1],)
    connection.rollback()
    assert run(connection, "SELECT count(*) FROM notes")[0] == ([0],)


def test_bytea_in_escape_format_reads_as_in_hex(opened: Connect) -> None:
    # set_config(..., true): only this statement's transaction; nothing stays on the session.
    sql = "SELECT set_config('bytea_output', %s, true), %s::bytea, %s::bytea, %s::bytea[]"
    args = (*BYTEA_VALUES[:2], list(BYTEA_VALUES))
    connection = opened()

    hex_answer = run(connection, sql, ("hex", *args))[0][0][1:]
    escape_answer = run(connection, sql, ("escape", *args))[0][0][1:]

    assert hex_answer == escape_answer == [BYTEA_VALUES[0], BYTEA_VALUES[1], list(BYTEA_VALUES)]
    assert answers_its_own_statements(connection)


def test_stock_pg8000_reads_bytea_in_escape_format_wrong(opened: Connect) -> None:
    connection = opened(pg8000.Connection)

    rows = run(connection, "SELECT set_config('bytea_output', 'escape', true), 'ab'::bytea")[0]

    assert rows == (["escape", b""],)


def test_a_notification_in_the_client_encoding_is_read_with_the_answer(opened: Connect) -> None:
    listener, notifier = opened(), opened()
    run(listener, "LISTEN fault_channel")

    run(notifier, "SELECT pg_notify('fault_channel', %s)", (NOTIFY_PAYLOAD,))  # arrives idle
    after_idle = run(listener, "SELECT %s::text", ("mine",))[0]
    run(listener, "SELECT pg_notify('fault_channel', %s)", (NOTIFY_PAYLOAD,))  # in its answer

    assert after_idle == (["mine"],)
    assert [payload for _, _, payload in listener.notifications] == [NOTIFY_PAYLOAD] * 2
    assert answers_its_own_statements(listener)


def test_stock_pg8000_fails_the_next_statement_on_a_non_ascii_notification(
    opened: Connect,
) -> None:
    listener, notifier = opened(pg8000.Connection), opened()
    run(listener, "LISTEN fault_channel")
    run(notifier, "SELECT pg_notify('fault_channel', %s)", (NOTIFY_PAYLOAD,))

    with pytest.raises(UnicodeDecodeError):
        run(listener, "SELECT %s::text", ("innocent",))


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        pytest.param(RuntimeError("injected"), InterfaceError, id="an error"),
        pytest.param(KeyboardInterrupt(), KeyboardInterrupt, id="an interrupt"),
    ],
)
def test_a_failure_in_the_middle_of_a_message_closes_the_connection(
    opened: Connect, error: BaseException, raised: type[BaseException]
) -> None:
    connection = opened()
    # ParseComplete, BindComplete, RowDescription read (header and body each), then a DataRow's
    # header: its body is where the read fails.
    connection._sock = FailingReads(connection._sock, error, after=7)

    with pytest.raises(raised) as caught:
        run(connection, "SELECT %s::text", ("lost",))

    if raised is InterfaceError:  # read by SQLAlchemy as a lost connection
        assert "connection is closed" in str(caught.value)
    with pytest.raises(InterfaceError, match="connection is closed"):
        run(connection, "SELECT %s::text", ("after",))
    connection.close()  # quietly: the socket is closed already


def test_copy_from_stdin_without_data_closes_the_connection(opened: Connect) -> None:
    connection = opened()
    run(connection, "CREATE TEMPORARY TABLE notes (n int)")

    # The server waits for rows that will never come: reading on would hang.
    with pytest.raises(InterfaceError, match="connection is closed"):
        run(connection, "COPY notes FROM STDIN")

    assert connection._sock is None

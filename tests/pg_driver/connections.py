"""What the driver's tests do with a raw connection: run a statement, count round trips."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from pg8000 import core
from pg8000.exceptions import DatabaseError

Connect = Callable[..., Any]


class CountingSocketFile:
    """Wraps a connection's socket file: a read after a write is one round trip."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped
        self._wrote = False
        self.round_trips = 0
        self.flushes = 0

    def write(self, data: bytes) -> int:
        self._wrote = True
        return int(self._wrapped.write(data))

    def flush(self) -> None:
        self.flushes += 1
        self._wrapped.flush()

    def read(self, size: int) -> bytes:
        if self._wrote:
            self.round_trips += 1
            self._wrote = False
        return bytes(self._wrapped.read(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def counted(connection: Any) -> CountingSocketFile:
    """Count the connection's round trips from now on."""
    counter = CountingSocketFile(connection._sock)
    connection._sock = counter
    return counter


def run(connection: Any, sql: str, args: Any = ()) -> tuple[Any, Any, int]:
    """Rows, column description and row count of one statement."""
    cursor = connection.cursor()
    cursor.execute(sql, args)
    rows = cursor.fetchall() if cursor.description is not None else None
    return rows, cursor.description, cursor.rowcount


def sqlstate(error: BaseException) -> str:
    return str(error.args[0]["C"])


def answers_its_own_statements(connection: Any) -> bool:
    """Tell whether the next statements, with and without parameters, get their own rows."""
    return run(connection, "SELECT %s::text", ("mine",))[0] == (["mine"],) and run(
        connection, "SELECT 'also mine'"
    )[0] == (["also mine"],)


# Runs in the watchdog's server session, so no Python thread competes with the test's.
CANCEL_FOREVER = """
CREATE OR REPLACE FUNCTION pg_temp.cancel_forever(target int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOOP
        PERFORM pg_cancel_backend(target);
        PERFORM pg_sleep(0.0001);
    END LOOP;
END $$
"""


class Canceller:
    """A session that cancels whatever a backend runs, again and again, as a watchdog would.

    `watchdog` loops in the server until `stopper` cancels it (or its statement_timeout ends
    a loop that was never stopped).
    """

    def __init__(self, watchdog: Any, stopper: Any, pid: int) -> None:
        self._watchdog = watchdog
        self._stopper = stopper
        self._pid = pid
        self._watchdog_pid = 0
        self._thread = threading.Thread(target=self._cancel, daemon=True)

    def __enter__(self) -> Canceller:
        self._watchdog_pid = run(self._watchdog, "SELECT pg_backend_pid()")[0][0][0]
        run(self._watchdog, "SET statement_timeout = '2min'")
        run(self._watchdog, CANCEL_FOREVER)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        # Again until it ends: a cancel sent before the loop started is lost.
        while self._thread.is_alive():
            run(self._stopper, "SELECT pg_cancel_backend(%s)", (self._watchdog_pid,))
            self._thread.join(timeout=0.05)

    def _cancel(self) -> None:
        with contextlib.suppress(DatabaseError):
            run(self._watchdog, "SELECT pg_temp.cancel_forever(%s)", (self._pid,))


def rolled_back(connection: Any) -> None:
    """Roll back, again if the cancel hit the ROLLBACK itself."""
    for _ in range(100):
        try:
            connection.rollback()
        except DatabaseError:
            continue
        if connection._transaction_status == core.IDLE:
            return
    raise AssertionError("could not roll back")


class FailingReads:
    """A connection's socket file whose read number `after` + 1 fails with `error`, once."""

    def __init__(self, wrapped: Any, error: BaseException, after: int) -> None:
        self._wrapped = wrapped
        self._error = error
        self._left = after

    def read(self, size: int) -> bytes:
        self._left -= 1
        if self._left == -1:
            raise self._error
        return bytes(self._wrapped.read(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)

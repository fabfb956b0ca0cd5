"""What the driver's tests do with a raw connection: run a statement, count round trips."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

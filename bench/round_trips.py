"""Count round trips to PostgreSQL: each wait for the server after the client wrote.

pg8000 writes and reads its socket only through `pg8000.core._write`, `_flush` and `_read` (the
single-exchange driver too), so wrapping those counts every connection in the process,
whoever opened it: the app's pool, the floors' kept-open connections. Deterministic, unlike
timings: a test can assert it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pg8000 import core

# Messages that carry SQL text: simple Query ("Q") and Parse ("P").
QUERY, PARSE = ord("Q"), ord("P")
# Frontend messages of a statement, by type byte; Flush ("H") is left out, it asks for nothing.
MESSAGE_NAMES = {
    "Q": "Query",
    "P": "Parse",
    "B": "Bind",
    "D": "Describe",
    "E": "Execute",
    "S": "Sync",
    "C": "Close",
    "X": "Terminate",
}
TRANSACTION_CONTROL = frozenset({"begin transaction", "begin", "commit", "rollback"})


@dataclass
class Exchange:
    """One write-then-wait: the messages and statements the client sent before waiting."""

    statements: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def only_transaction_control(self) -> bool:
        """True when it sent nothing but BEGIN, COMMIT or ROLLBACK."""
        return bool(self.statements) and all(
            statement.lower().rstrip(";") in TRANSACTION_CONTROL for statement in self.statements
        )


@dataclass
class Recording:
    """The exchanges of everything run while recording."""

    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        """How many times the client waited for the server."""
        return len(self.exchanges)

    def describe(self) -> list[str]:
        """One line per exchange: its statements, or what it was when it sent none."""
        return [
            "+".join(exchange.messages or ["(startup)"])
            + (": " + " ; ".join(exchange.statements) if exchange.statements else "")
            for exchange in self.exchanges
        ]


def parse_messages(written: bytes) -> Exchange:
    """The message names, and the SQL of the Query and Parse messages, in what was written."""
    found: list[str] = []
    names: list[str] = []
    index = 0
    while index + 5 <= len(written):
        code = written[index]
        length = int.from_bytes(written[index + 1 : index + 5], "big")
        if length < 4:
            break  # not a message stream (the startup packet has no type byte)
        body = written[index + 5 : index + 1 + length]
        if chr(code) in MESSAGE_NAMES:
            names.append(MESSAGE_NAMES[chr(code)])
        if code == QUERY:
            found.append(body.split(b"\0", 1)[0].decode())
        elif code == PARSE:
            found.append(body.split(b"\0", 2)[1].decode())
        index += 1 + length
    return Exchange([" ".join(statement.split()) for statement in found], names)


@contextmanager
def recording() -> Iterator[Recording]:
    """Record every exchange of every pg8000 connection in this process meanwhile.

    A read after a write is one round trip; its messages are those flushed to the socket
    since the last read (pg8000 may write a message and only flush it one exchange later).
    """
    recorded = Recording()
    unflushed, flushed = bytearray(), bytearray()
    wrote = False
    original_write, original_flush, original_read = core._write, core._flush, core._read

    def write(sock: Any, data: bytes) -> None:
        nonlocal wrote
        wrote = True
        unflushed.extend(data)
        original_write(sock, data)

    def flush(sock: Any) -> None:
        flushed.extend(unflushed)
        unflushed.clear()
        original_flush(sock)

    def read(sock: Any, size: int) -> bytes:
        nonlocal wrote
        if wrote:
            recorded.exchanges.append(parse_messages(bytes(flushed)))
            flushed.clear()
            wrote = False
        data: bytes = original_read(sock, size)
        return data

    core._write, core._flush, core._read = write, flush, read
    try:
        yield recorded
    finally:
        core._write, core._flush, core._read = original_write, original_flush, original_read

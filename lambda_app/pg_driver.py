"""pg8000's connection, sending each statement to PostgreSQL in one exchange.

Stock pg8000 1.31 runs a statement with parameters in three exchanges (Parse+Sync,
Describe+Sync, Bind+Execute+Sync). Each Sync ends the implicit transaction of an autocommit
statement, so a transaction-mode pooler may hand the server connection to another client
between the Parse and the Bind: that client's statement then runs with our parameters.
Here Parse, Bind, Describe (portal), Execute and Sync go out together under the unnamed
statement, as psycopg 3, pgx and asyncpg send them: one exchange, nothing spans a Sync.

The BEGIN that pg8000 sends before a transaction's first statement (when not in autocommit)
is held back and written in the same exchange as that statement. See
docs/pg8000-single-exchange.md; tests/pg_driver/test_pinned_internals.py pins the pg8000 internals
relied on here.
"""

from __future__ import annotations

import contextlib
import functools
from datetime import datetime
from typing import Any

import pg8000
import pg8000.legacy
from pg8000 import converters, core
from pg8000.converters import make_params
from pg8000.exceptions import DatabaseError, InterfaceError

# What pg8000's Cursor.execute runs before a statement when no transaction is open.
IMPLICIT_BEGIN = "begin transaction"
_UNNAMED = core.NULL_BYTE
_DESCRIBE_UNNAMED_PORTAL = core.PORTAL + core.NULL_BYTE


# pg8000.Connection (pg8000.legacy's) is what pg8000.connect() returns and SQLAlchemy's
# pg8000 dialect uses: its cursor maps SQLSTATEs to IntegrityError and ProgrammingError.
class SingleExchangeConnection(pg8000.Connection):  # type: ignore[misc]
    """pg8000's DB-API connection, every statement in one write and one wait."""

    # What is sent, in the statement's exchange, for the BEGIN that pg8000 asked for.
    begin_statement = IMPLICIT_BEGIN

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except OSError as error:
            # The same unwrapped first read as in _exchange, met during startup: a DB-API
            # error, so that SQLAlchemy wraps it and the app answers 503.
            reason = f"cannot reach the database: {type(error).__name__}"
            raise InterfaceError(reason) from error
        self._begin_pending = False
        self.pg_types[converters.TIMESTAMPTZ] = timestamptz_in

    @property
    def _in_transaction(self) -> bool:
        # A held-back BEGIN counts: pg8000 must not send a second one, and rollback() must
        # not skip a transaction it believes is open.
        return bool(self._begin_pending or super()._in_transaction)

    def execute_simple(self, statement: str) -> core.Context:
        """Run a statement without parameters (simple query); hold back pg8000's own BEGIN."""
        if statement == IMPLICIT_BEGIN and not self.autocommit and not self._in_transaction:
            # Only Cursor.execute sends this, right before the statement it precedes.
            self._begin_pending = True
            return core.Context(statement)
        context = core.Context(statement)
        self._exchange(_query(statement, self._client_encoding), context)
        return context

    def execute_unnamed(
        self, statement: str, vals: Any = (), oids: Any = (), stream: Any = None
    ) -> core.Context:
        """Parse, Bind, Describe, Execute and Sync under the unnamed statement, flushed once."""
        context = core.Context(statement, stream=stream)
        encoding = self._client_encoding
        params = make_params(self.py_types, vals)
        self._exchange(
            _parse(statement, oids, encoding)
            + _bind(params, encoding)
            + _message(core.DESCRIBE, _DESCRIBE_UNNAMED_PORTAL)
            + core.EXECUTE_MSG
            + core.SYNC_MSG,
            context,
        )
        return context

    def _exchange(self, messages: bytes, context: core.Context) -> None:
        """Write the messages (after a held-back BEGIN) in one flush, then read to ReadyForQuery."""
        begin = None
        if self._begin_pending:
            self._begin_pending = False
            begin = core.Context(self.begin_statement)
            messages = _query(self.begin_statement, self._client_encoding) + messages
        if self._sock is None:
            raise InterfaceError("connection is closed")
        try:
            core._write(self._sock, messages)
        except ValueError as error:  # the file object was closed under us
            raise InterfaceError("connection is closed") from error
        core._flush(self._sock)
        # Read inline, not in a helper: this is every statement's path, and a try costs nothing.
        try:
            if begin is not None:
                try:
                    self.handle_messages(begin)
                except DatabaseError:
                    # The statement's answer follows the BEGIN's: read it so the next
                    # exchange starts in step, then report the BEGIN's error.
                    with contextlib.suppress(DatabaseError):
                        self.handle_messages(context)
                    raise
            self.handle_messages(context)
        except OSError as error:
            # pg8000's _read lets a reset on a message's first read through unwrapped; as
            # "network error", SQLAlchemy sees a dead connection (and the request retries).
            raise InterfaceError("network error") from error


def _message(code: bytes, data: bytes) -> bytes:
    length: bytes = core.i_pack(len(data) + 4)
    return code + length + data


def _query(statement: str, encoding: str) -> bytes:
    return _message(core.QUERY, statement.encode(encoding) + core.NULL_BYTE)


def _parse(statement: str, oids: Any, encoding: str) -> bytes:
    data = bytearray(_UNNAMED + statement.encode(encoding) + core.NULL_BYTE)
    data += core.H_pack(len(oids))
    for oid in oids:
        data += core.i_pack(0 if oid == -1 else oid)
    return _message(core.PARSE, bytes(data))


def _bind(params: Any, encoding: str) -> bytes:
    # Portal "" of statement "", every parameter and result column in text format.
    data = bytearray(core.NULL_BYTE + _UNNAMED + core.H_pack(0) + core.H_pack(len(params)))
    for value in params:
        if value is None:
            data += core.i_pack(-1)
        else:
            encoded = value.encode(encoding)
            data += core.i_pack(len(encoded)) + encoded
    data += core.H_pack(0)
    return _message(core.BIND, bytes(data))


def timestamptz_in(text: str) -> Any:
    """A timestamptz in PostgreSQL's text form, as stock pg8000 reads it, but in C.

    `datetime.fromisoformat` reads PostgreSQL's ISO output (offsets like +00 or +05:30
    included) several times faster than pg8000's `strptime`; anything it does not read
    (infinity, years BC or past 9999) goes the stock way.
    """
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return converters.timestamptz_in(text)


_stock_convert_paramstyle = pg8000.legacy.convert_paramstyle


@functools.lru_cache(maxsize=1024)
def _numbered(query: str) -> str:
    statement: str = _stock_convert_paramstyle("format", query, ())[0]
    return statement


def convert_paramstyle(style: str, query: str, args: Any) -> tuple[str, Any]:
    """pg8000's conversion of %s placeholders to $1..$n, remembered per statement.

    The stock function walks the statement character by character on every execute;
    SQLAlchemy sends the same few statements again and again, in the "format" style, whose
    result does not depend on the arguments.
    """
    if style == "format":
        return _numbered(query), args
    converted: tuple[str, Any] = _stock_convert_paramstyle(style, query, args)
    return converted


# pg8000.legacy.Cursor.execute looks the function up in its module on every call.
pg8000.legacy.convert_paramstyle = convert_paramstyle

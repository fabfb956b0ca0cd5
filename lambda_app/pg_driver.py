"""pg8000's connection, sending each statement to PostgreSQL in one exchange.

Stock pg8000 1.31 runs a statement with parameters in three exchanges (Parse+Sync,
Describe+Sync, Bind+Execute+Sync). Each Sync ends the implicit transaction of an autocommit
statement, so a transaction-mode pooler may hand the server connection to another client
between the Parse and the Bind: that client's statement then runs with our parameters.
Here Parse, Bind, Describe (portal), Execute and Sync go out together under the unnamed
statement, as psycopg 3, pgx and asyncpg send them: one exchange, nothing spans a Sync.

The BEGIN that pg8000 sends before a transaction's first statement (when not in autocommit)
is held back and sent in that statement's Sync batch, so that the server skips the statement
when the BEGIN fails. An answer is always read up to its ReadyForQuery, whatever fails while
it is read, or else the connection is closed: the next statement never reads this one's rows.
See docs/pg8000-single-exchange.md; tests/pg_driver/test_pinned_internals.py pins the pg8000
internals relied on here.
"""

from __future__ import annotations

import contextlib
from typing import Any, NoReturn

import pg8000
from pg8000 import converters, core
from pg8000.converters import make_params
from pg8000.exceptions import InterfaceError

from lambda_app.pg_conversions import bytea_array_in, bytea_in, timestamptz_in

# What pg8000's Cursor.execute runs before a statement when no transaction is open.
IMPLICIT_BEGIN = "begin transaction"
# The protocol counts a statement's parameters in 16 bits.
MAX_PARAMETERS = 65_535
_UNNAMED = core.NULL_BYTE
_DESCRIBE_UNNAMED_PORTAL = core.PORTAL + core.NULL_BYTE


class TooManyParametersError(InterfaceError):  # type: ignore[misc]
    """A statement with more parameters than the protocol counts; nothing was sent.

    Its own class, not a plain InterfaceError: `db.is_dead_connection` reads that as a lost
    connection, and this connection is fine.
    """

    def __init__(self, count: int) -> None:
        super().__init__(
            f"a statement takes at most {MAX_PARAMETERS:,} parameters; this one has {count:,}"
        )


# pg8000.Connection (pg8000.legacy's) is what pg8000.connect() returns and SQLAlchemy's
# pg8000 dialect uses: its cursor maps SQLSTATEs to IntegrityError and ProgrammingError.
class SingleExchangeConnection(pg8000.Connection):  # type: ignore[misc]
    """pg8000's DB-API connection, every statement in one write and one wait."""

    _usock: Any  # the socket under _sock, set by pg8000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except OSError as error:
            # The same unwrapped first read as in handle_messages, met during startup: a
            # DB-API error, so that SQLAlchemy wraps it and the app answers 503.
            reason = f"cannot reach the database: {type(error).__name__}"
            raise InterfaceError(reason) from error
        self._begin_pending = False
        self.pg_types[converters.TIMESTAMPTZ] = timestamptz_in
        self.pg_types[converters.BYTES] = bytea_in
        self.pg_types[converters.BYTES_ARRAY] = bytea_array_in

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
        if self._begin_pending:
            if ";" not in statement:
                # One statement: the extended protocol runs it as the simple one would, and
                # puts it in the BEGIN's Sync batch (one round trip).
                return self.execute_unnamed(statement)
            # Maybe several statements, which only a simple query holds: the BEGIN goes first,
            # alone, as in stock pg8000; if it fails, the statements are not sent.
            self._exchange(core.SYNC_MSG, core.Context(IMPLICIT_BEGIN))
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

    def execute_named(
        self, statement_name_bin: bytes, params: Any, columns: Any, input_funcs: Any, statement: str
    ) -> core.Context:
        """Bind and run a statement of pg8000's `prepare()`, in a held-back BEGIN's batch too."""
        context = core.Context(statement, columns=columns, input_funcs=input_funcs)
        bind = _bind(params, self._client_encoding, statement_name_bin)
        self._exchange(bind + core.EXECUTE_MSG + core.SYNC_MSG, context)
        return context

    def _exchange(self, messages: bytes, context: core.Context) -> None:
        """Write the messages (after a held-back BEGIN) in one flush, then read to ReadyForQuery."""
        if self._begin_pending:
            # One Sync batch: when the BEGIN fails, the server skips everything up to the Sync.
            self._begin_pending = False
            messages = _HELD_BACK_BEGIN + messages
        sock = self._sock
        if sock is None:
            raise InterfaceError("connection is closed")
        try:
            core._write(sock, messages)
            core._flush(sock)
        except BaseException as error:
            # Part of the batch may be out: the server would read the rest as new messages.
            self._lose_step(error)
        self.handle_messages(context)

    def handle_messages(self, context: core.Context) -> None:
        """Read an answer up to its ReadyForQuery, staying in step with the server.

        When handling a message fails (a value Python cannot hold, say), the rest of the
        answer is read before the error is raised; a failure in the middle of a message
        closes the connection. Either way the next statement never reads this one's rows.
        """
        sock = self._sock
        handlers = self.message_types
        fault: Exception | None = None
        code = None
        try:
            while code != core.READY_FOR_QUERY:
                code, length = core.ci_unpack(core._read(sock, 5))
                data = core._read(sock, length - 4)
                if fault is None:
                    try:
                        handlers[code](data, context)
                    except Exception as error:
                        fault = error
                        if code == core.COPY_IN_RESPONSE:
                            # The server waits for the rows to copy and will send nothing.
                            raise InterfaceError("connection is closed: COPY failed") from error
                elif code != core.DATA_ROW:  # the statement fails anyway: decode no more rows
                    with contextlib.suppress(Exception):
                        handlers[code](data, context)
        except BaseException as error:
            self._lose_step(error)
        if fault is not None:
            raise fault
        if context.error is not None:
            raise context.error

    def _lose_step(self, error: BaseException) -> NoReturn:
        """Close the socket that `error` left out of step with the server, and raise.

        What is raised is a DB-API error whose text SQLAlchemy's pg8000 dialect reads as a lost
        connection ("network error", "connection is closed"), so the pool drops it.
        """
        self._sock = None  # the socket object stays in _usock: close() then knows
        if self._usock is not None:
            with contextlib.suppress(OSError):
                self._usock.close()
        if isinstance(error, InterfaceError) or not isinstance(error, Exception):
            raise error  # says so already, or an exit (KeyboardInterrupt) to let through
        if isinstance(error, OSError):
            # pg8000's _read lets a reset on a message's first read through unwrapped.
            raise InterfaceError("network error") from error
        reason = f"connection is closed: {type(error).__name__} left it out of step"
        raise InterfaceError(reason) from error

    def close(self) -> None:
        """Close the connection (quietly when a fault has closed its socket already)."""
        if self._sock is None and self._usock is not None:
            self._usock = None
            return
        super().close()

    def handle_NOTIFICATION_RESPONSE(self, data: bytes, _context: core.Context) -> None:  # noqa: N802
        """Keep a notification: channel and payload come in the client encoding, not ASCII."""
        channel, payload = data[4:-1].split(core.NULL_BYTE, 1)
        encoding = self._client_encoding
        notification = (channel.decode(encoding, "replace"), payload.decode(encoding, "replace"))
        self.notifications.append((core.i_unpack(data)[0], *notification))


def _message(code: bytes, data: bytes) -> bytes:
    length: bytes = core.i_pack(len(data) + 4)
    return code + length + data


def _query(statement: str, encoding: str) -> bytes:
    return _message(core.QUERY, statement.encode(encoding) + core.NULL_BYTE)


def _parse(statement: str, oids: Any, encoding: str) -> bytes:
    count = len(oids)
    if count > MAX_PARAMETERS:
        raise TooManyParametersError(count)
    data = bytearray(_UNNAMED + statement.encode(encoding) + core.NULL_BYTE)
    data += core.H_pack(count)
    for oid in oids:
        data += core.i_pack(0 if oid == -1 else oid)
    return _message(core.PARSE, bytes(data))


def _bind(params: Any, encoding: str, statement: bytes = _UNNAMED) -> bytes:
    # Portal "" of the statement, every parameter and result column in text format.
    count = len(params)
    if count > MAX_PARAMETERS:
        raise TooManyParametersError(count)
    data = bytearray(core.NULL_BYTE + statement + core.H_pack(0) + core.H_pack(count))
    for value in params:
        if value is None:
            data += core.i_pack(-1)
        else:
            encoded = value.encode(encoding)
            data += core.i_pack(len(encoded)) + encoded
    data += core.H_pack(0)
    return _message(core.BIND, bytes(data))


# Parse, Bind and Execute of the BEGIN, for the front of its statement's batch.
_HELD_BACK_BEGIN = _parse(IMPLICIT_BEGIN, (), "ascii") + _bind((), "ascii") + core.EXECUTE_MSG

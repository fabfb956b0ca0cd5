"""Record every statement the API's connections send, read off the wire, and spot the pinning ones.

The recorder wraps the socket file of each new pg8000 connection and parses the frontend
messages written to it: simple queries ('Q') and Parse messages ('P', with their statement
name). So it also sees what SQLAlchemy's dialect sends outside cursor events, such as
`SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL ...`.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

from lambda_app.utils.json_logs import REQUEST_ID

API_APPLICATION_NAME = "users-service"
REQUEST_LOGGER = "lambda_app.requests"

# Statements that leave state on the server session, so a pooler must pin (RDS Proxy) or
# would leak it to the next client (PgBouncer in transaction mode). Transaction-scoped
# forms (SET LOCAL, SET TRANSACTION, pg_advisory_xact_lock) end with their transaction.
_START = r"(?:^|;)\s*"
PINNING_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("SET", re.compile(_START + r"SET\s+(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)", re.I)),
    ("RESET", re.compile(_START + r"RESET\b", re.I)),
    ("PREPARE", re.compile(_START + r"PREPARE\b", re.I)),
    ("DISCARD", re.compile(_START + r"DISCARD\b", re.I)),
    ("LISTEN", re.compile(_START + r"LISTEN\b", re.I)),
    ("session advisory lock", re.compile(r"\bpg_(?:try_)?advisory_lock(?:_shared)?\s*\(", re.I)),
    ("session set_config", re.compile(r"\bset_config\s*\([^;]*,\s*false\s*\)", re.I)),
    ("CREATE TEMP", re.compile(_START + r"CREATE\s+(?:GLOBAL\s+|LOCAL\s+)?TEMP(?:ORARY)?\b", re.I)),
    ("DECLARE ... WITH HOLD", re.compile(_START + r"DECLARE\b[^;]*\bWITH\s+HOLD\b", re.I)),
)
_HEADER = struct.Struct("!ci")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


@dataclass(frozen=True)
class SentStatement:
    """One statement as a client sent it, and who was running when it did."""

    sql: str
    message: str  # "query" (simple protocol) or "parse" (extended protocol)
    statement_name: str
    test: str | None
    request_id: str | None

    def pinning_reason(self) -> str | None:
        """Why this statement pins a pooled connection, or None if it does not."""
        if self.statement_name:
            return f"named prepared statement {self.statement_name!r}"
        sql = _COMMENTS.sub(" ", self.sql)
        for reason, pattern in PINNING_PATTERNS:
            if pattern.search(sql):
                return reason
        return None


class _FrontendMessages:
    """Split the bytes a client writes into protocol messages and record the statements."""

    def __init__(self, recorder: StatementRecorder) -> None:
        self._recorder = recorder
        self._buffer = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer.extend(data)
        while len(self._buffer) >= _HEADER.size:
            code, length = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < 1 + length:
                return
            body = bytes(self._buffer[_HEADER.size : 1 + length])
            del self._buffer[: 1 + length]
            if code == b"Q":
                self._recorder.add(_cstring(body, 0)[0], "query", "")
            elif code == b"P":
                name, after_name = _cstring(body, 0)
                self._recorder.add(_cstring(body, after_name)[0], "parse", name)


def _cstring(body: bytes, start: int) -> tuple[str, int]:
    end = body.index(b"\x00", start)
    return body[start:end].decode("utf-8", "replace"), end + 1


class _RecordingSocketFile:
    """pg8000's socket file, with every write also parsed as frontend messages."""

    def __init__(self, inner: Any, recorder: StatementRecorder) -> None:
        self._inner = inner
        self._messages = _FrontendMessages(recorder)

    def write(self, data: bytes | bytearray | memoryview) -> Any:
        self._messages.feed(data)
        return self._inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _RequestRoutes(logging.Handler):
    """Remember method and route of each request id, from the app's one log line per request."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.routes: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        request_id = getattr(record, "request_id", None)
        method, route = getattr(record, "method", None), getattr(record, "route", None)
        if request_id and method and route:
            self.routes[str(request_id)] = f"{method} {route}"


@dataclass
class StatementRecorder:
    """Every statement sent on connections whose application_name is `application_name`."""

    application_name: str = API_APPLICATION_NAME
    statements: list[SentStatement] = field(default_factory=list)
    _routes: _RequestRoutes = field(default_factory=_RequestRoutes)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> None:
        """Start recording on every SQLAlchemy pool's new connections (and request routes)."""
        # first_connect runs before the dialect's own first queries; connect, for every later one.
        event.listen(Pool, "first_connect", self._wrap)
        event.listen(Pool, "connect", self._wrap)
        logging.getLogger(REQUEST_LOGGER).addHandler(self._routes)

    def uninstall(self) -> None:
        """Stop recording new connections."""
        event.remove(Pool, "first_connect", self._wrap)
        event.remove(Pool, "connect", self._wrap)
        logging.getLogger(REQUEST_LOGGER).removeHandler(self._routes)

    def add(self, sql: str, message: str, statement_name: str) -> None:
        """Record one statement sent now, with the running test and request."""
        test = os.environ.get("PYTEST_CURRENT_TEST")
        statement = SentStatement(
            sql=sql,
            message=message,
            statement_name=statement_name,
            test=test.rsplit(" (", 1)[0] if test else None,
            request_id=REQUEST_ID.get(),
        )
        with self._lock:
            self.statements.append(statement)

    def pinning(self) -> list[SentStatement]:
        """The recorded statements that pin a connection."""
        with self._lock:
            return [s for s in self.statements if s.pinning_reason() is not None]

    def forget(self, statements: list[SentStatement]) -> None:
        """Drop these records (a test that sent them on purpose)."""
        with self._lock:
            self.statements = [s for s in self.statements if s not in statements]

    def describe(self, statement: SentStatement) -> str:
        """One line: reason, SQL, test and request."""
        if statement.request_id is None:
            request = "outside any request"
        else:
            route = self._routes.routes.get(statement.request_id, "unlogged request")
            request = f"request {route} (id {statement.request_id})"
        return (
            f"{statement.pinning_reason()}: {statement.sql[:200]!r} "
            f"in {statement.test or 'no test'}, {request}"
        )

    def _wrap(self, dbapi_connection: Any, _record: Any) -> None:
        statuses = getattr(dbapi_connection, "parameter_statuses", {})
        if statuses.get("application_name") != self.application_name:
            return
        sock = getattr(dbapi_connection, "_sock", None)
        if sock is None:
            # Fail loudly rather than record nothing if pg8000's internals change.
            raise RuntimeError("pg8000 connection has no _sock: the pinning guard cannot record")
        if not isinstance(sock, _RecordingSocketFile):
            dbapi_connection._sock = _RecordingSocketFile(sock, self)

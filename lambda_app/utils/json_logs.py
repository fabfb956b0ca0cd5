"""JSON log lines, one object per record, carrying the current request's id."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# Defence in depth: whatever a message or traceback carries, these never reach a log line.
# Each pattern comes with text that every match contains (in casefolded text): a line
# without it skips that pattern, which keeps the scan off the path of every request line.
_SECRETS = (
    # Passwords in URLs.
    ("://", re.compile(r"(?<=://)([^:/@\s]+):[^@/\s]+@"), r"\1:***@"),
    # JSON web tokens.
    ("eyj", re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]*"), "<jwt>"),
    # Signatures of presigned URLs.
    ("signature=", re.compile(r"(?i)(x-amz-signature|signature)=[0-9a-f]+"), r"\1=***"),
    ("bearer", re.compile(r"(?i)(bearer\s+)[\w.~+/-]+=*"), r"\1***"),
)
APP_LOGGER = "lambda_app"
# json.dumps(default=str, ensure_ascii=False), without building an encoder for every line.
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)
# Attributes every LogRecord has; anything else was passed through `extra=` and is logged.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            # Lambda reads `timestamp` and `level` to file JSON lines under the right level.
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(_ENCODER.encode(entry))


def redact(text: str) -> str:
    """Mask passwords in URLs, tokens and signatures that slipped into `text`."""
    folded = text.casefold()
    for marker, pattern, replacement in _SECRETS:
        if marker in folded:
            text = pattern.sub(replacement, text)
    return text


def _stamp_request_id(
    factory: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    """Wrap a record factory so each record carries the request id current when it was made."""

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        request_id = REQUEST_ID.get()
        if request_id is not None:
            record.request_id = request_id
        return record

    make_record.stamps_request_id = True  # type: ignore[attr-defined]
    return make_record


def install_request_id_stamp() -> None:
    """Make every log record carry the current request id (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "stamps_request_id", False):
        logging.setLogRecordFactory(_stamp_request_id(factory))


def configure_logging(level: str) -> None:
    """Send the app's logs to stdout as JSON lines at `level` (idempotent)."""
    logger = logging.getLogger(APP_LOGGER)
    logger.setLevel(level.upper())
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    # The Lambda runtime's root handler would print each record a second time.
    logger.propagate = False

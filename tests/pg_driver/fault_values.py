"""What trips a driver: values Python cannot hold, other output formats, a refused BEGIN."""

from __future__ import annotations

import pytest

# Values PostgreSQL sends that Python's types cannot hold, and what pg8000 raises reading them.
DECODE_FAULTS = [
    pytest.param("SELECT CAST('24:00' AS time)", ValueError, id="time 24:00"),
    pytest.param(
        "SELECT CAST(repeat('[', 3000) || repeat(']', 3000) AS jsonb)",
        RecursionError,
        id="jsonb nested 3,000 deep",
    ),
    pytest.param("SELECT interval '1000000000 days'", OverflowError, id="interval beyond Python's"),
    pytest.param("SELECT ARRAY[CAST('24:00' AS time)]", ValueError, id="24:00 in an array"),
    pytest.param(
        "SELECT CAST(t AS time) FROM unnest(ARRAY['10:00', '24:00', '11:00']) AS t",
        ValueError,
        id="24:00 after a good row",
    ),
]


def with_parameter(sql: str) -> tuple[str, tuple[str]]:
    """The same value through the extended protocol: a statement with one parameter more."""
    return sql.replace("SELECT ", "SELECT %s::text AS tag, ", 1), ("tag",)


# Bytes of every kind: NUL, high, a backslash, quotes, array punctuation; and empty.
BYTEA_VALUES = (b"\x00\xff\\x'ab\"{},", b"ab", b"\\", b"")
# Not ASCII: PostgreSQL sends a notification's payload in the client encoding.
NOTIFY_PAYLOAD = "Zoë ☃ \u00e9t\u00e9"
# Rewritten on the wire by the relay: the server then refuses the BEGIN (a syntax error).
BEGIN_SENT = b"begin transaction"
BEGIN_REFUSED = b"begin transactioX"

"""Conversions pg8000 makes on every statement, done faster or for more of the server's forms.

Importing this module replaces pg8000's placeholder conversion with one that remembers its
results; `SingleExchangeConnection` registers the readers below for its connections.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

import pg8000.legacy
from pg8000 import converters


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


# bytea_output = escape: a backslash doubled, any other byte outside printable ASCII in octal.
_ESCAPED_BYTE = re.compile(r"\\(\\|[0-7]{3})")


def bytea_in(text: str) -> bytes:
    """A bytea in either of PostgreSQL's output formats, hex (the default) or escape.

    Stock pg8000 reads hex only, and reads escape output as hex too: wrong bytes, or an error.
    """
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    return _ESCAPED_BYTE.sub(_unescaped, text).encode("latin-1")


def _unescaped(found: re.Match[str]) -> str:
    escaped = found[1]
    return "\\" if escaped == "\\" else chr(int(escaped, 8))


bytea_array_in = converters._array_in(bytea_in)


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

"""Values in and out: placeholders and types the driver converts itself."""

from __future__ import annotations

import inspect

import pg8000
import pg8000.converters
import pg8000.legacy
import pytest

from lambda_app import pg_conversions


@pytest.mark.parametrize(
    "query",
    [
        "SELECT %s, %s FROM users WHERE email = %s",
        "SELECT '%s' || %s, \"col%s\" FROM t -- a %s comment\nWHERE x = %s",
        "SELECT $$ %s $$, E'it\\'s %s', %s, 100 %% 7",
        "SELECT 1",
    ],
)
def test_remembered_placeholder_conversion_is_stock_pg8000s(query: str) -> None:
    args = ("a", "b", "c")

    assert pg_conversions.convert_paramstyle("format", query, args) == (
        pg_conversions._stock_convert_paramstyle("format", query, args)
    )
    assert pg_conversions.convert_paramstyle("named", "SELECT :a, :b", {"a": 1, "b": 2}) == (
        pg_conversions._stock_convert_paramstyle("named", "SELECT :a, :b", {"a": 1, "b": 2})
    )
    assert pg8000.legacy.convert_paramstyle is pg_conversions.convert_paramstyle
    assert "convert_paramstyle(self.paramstyle, operation, args)" in inspect.getsource(
        pg8000.legacy.Cursor.execute
    )


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-29 09:14:06.455123+00",
        "2026-11-29 09:14:06.45+00",
        "2026-11-29 09:14:06+00",
        "2026-11-29 09:14:06.455123+05:30",
        "infinity",
        "-infinity",
        "0044-03-15 12:00:00+00 BC",
        "12026-01-01 00:00:00+00",
    ],
)
def test_timestamptz_is_read_as_stock_pg8000_reads_it(value: str) -> None:
    assert pg_conversions.timestamptz_in(value) == pg8000.converters.timestamptz_in(value)


def test_an_offset_with_seconds_is_a_datetime_where_stock_pg8000_gives_up() -> None:
    local_mean_time = "1901-12-13 20:45:52+00:09:21"  # Europe/Amsterdam before 1937

    assert pg8000.converters.timestamptz_in(local_mean_time) == local_mean_time
    assert pg_conversions.timestamptz_in(local_mean_time).utcoffset().total_seconds() == 561


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("\\x00ff5c", b"\x00\xff\\"),  # hex, the server's default
        ("ab", b"ab"),  # escape: printable bytes as they are
        ("\\\\x", b"\\x"),  # a backslash doubled, even before an x
        ("\\000\\377\\134", b"\x00\xff\\"),  # others in octal
        ("", b""),
    ],
)
def test_bytea_is_read_in_both_output_formats(text: str, value: bytes) -> None:
    assert pg_conversions.bytea_in(text) == value

"""pg8000 internals the driver relies on: fail loudly when an upgrade changes them."""

from __future__ import annotations

import inspect
import re
from importlib.metadata import version
from typing import Any

import pg8000
import pg8000.legacy
from pg8000 import core
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

from lambda_app import pg_driver
from lambda_app.pg_driver import IMPLICIT_BEGIN, SingleExchangeConnection
from tests.conftest import ROOT

CORE_NAMES = (
    "NULL_BYTE",
    "PORTAL",
    "DESCRIBE",
    "PARSE",
    "BIND",
    "QUERY",
    "EXECUTE_MSG",
    "SYNC_MSG",
    "IDLE",
    "IN_TRANSACTION",
    "READY_FOR_QUERY",
    "DATA_ROW",
    "COPY_IN_RESPONSE",
    "i_pack",
    "i_unpack",
    "H_pack",
    "ci_unpack",
    "_write",
    "_flush",
    "_read",
    "Context",
)


def test_pg8000_is_the_pinned_version() -> None:
    pins = (ROOT / "requirements.txt").read_text()
    pinned = re.search(r"^pg8000==(\S+)$", pins, re.MULTILINE)

    assert pinned is not None
    assert version("pg8000") == pinned.group(1) == "1.31.6", (
        "pg_driver.SingleExchangeConnection is written against pg8000 1.31.6's internals: "
        "review it (docs/pg8000-single-exchange.md) before changing the pin"
    )


def test_the_pg8000_internals_relied_on_are_there() -> None:
    missing = [name for name in CORE_NAMES if not hasattr(core, name)]
    assert not missing
    assert core.EXECUTE_MSG == b"E\x00\x00\x00\x09\x00\x00\x00\x00\x00"  # portal "", all rows
    assert core.SYNC_MSG == b"S\x00\x00\x00\x04"
    for name in ("handle_messages", "_send_message", "execute_simple", "execute_unnamed"):
        assert callable(getattr(core.CoreConnection, name))
    assert [*inspect.signature(core.CoreConnection.execute_named).parameters] == [
        "self",
        "statement_name_bin",
        "params",
        "columns",
        "input_funcs",
        "statement",
    ]
    assert callable(pg8000.converters._array_in)
    assert pg8000.converters.bytes_in("\\x00ff") == b"\x00\xff"  # what bytea_in replaces
    assert isinstance(pg8000.Connection._in_transaction, property)
    assert [*inspect.signature(core.CoreConnection.execute_unnamed).parameters] == [
        "self",
        "statement",
        "vals",
        "oids",
        "stream",
    ]
    assert [*inspect.signature(core.Context).parameters] == [
        "statement",
        "stream",
        "columns",
        "input_funcs",
    ]
    assert [*inspect.signature(pg8000_make_params()).parameters] == ["py_types", "values"]


def test_the_base_class_is_what_sqlalchemy_connects_with() -> None:
    assert PGDialect_pg8000.import_dbapi() is pg8000
    assert pg8000.Connection is pg8000.legacy.Connection
    assert "return Connection(" in inspect.getsource(pg8000.legacy.connect)
    assert issubclass(SingleExchangeConnection, pg8000.legacy.Connection)


def test_pg8000_uses_the_entry_points_this_class_overrides() -> None:
    cursor_execute = inspect.getsource(pg8000.legacy.Cursor.execute)
    assert f'self._c.execute_simple("{IMPLICIT_BEGIN}")' in cursor_execute
    assert "self._c.execute_simple(operation)" in cursor_execute
    assert "self._c.execute_unnamed(" in cursor_execute
    connection = inspect.getsource(pg8000.Connection)
    assert 'self.execute_unnamed("commit")' in connection
    assert 'self.execute_unnamed("rollback")' in connection
    for name in (
        "_sock",
        "_usock",
        "_client_encoding",
        "py_types",
        "pg_types",
        "_transaction_status",
        "autocommit",
        "notifications",
    ):
        assert f"self.{name} = " in inspect.getsource(core.CoreConnection) + connection
    # Handlers are bound at connect, by name, so this class's own are the ones called.
    assert "NOTIFICATION_RESPONSE: self.handle_NOTIFICATION_RESPONSE" in inspect.getsource(
        core.CoreConnection.__init__
    )
    # A held-back BEGIN reaches named statements through execute_named: it must send it.
    run_prepared = inspect.getsource(pg8000.legacy.PreparedStatement.run)
    assert "if not self.con._in_transaction and not self.con.autocommit:" in run_prepared
    assert "self.con.execute_named(" in run_prepared


def pg8000_make_params() -> Any:
    return pg_driver.make_params

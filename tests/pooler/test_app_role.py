"""The API's role, as the migration made it: DML on the app's tables, no DDL, owns nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from lambda_app.config import get_settings
from lambda_app.db import server_error_field
from tests.conftest import APP_DB_ROLE

INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
def as_app(app_env: dict[str, str]) -> Iterator[Engine]:
    """An engine logged in as the app's role, the way the app connects (pooler included)."""
    engine = create_engine(app_env["DATABASE_URL"], isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE app_role_probe (id integer)",
        "ALTER TABLE users ADD COLUMN app_role_probe integer",
        "DROP TABLE users",
        "TRUNCATE users",
        "CREATE INDEX app_role_probe ON users (full_name)",
        "ALTER TABLE users DISABLE TRIGGER ALL",
    ],
)
def test_the_app_role_cannot_change_the_schema(as_app: Engine, ddl: str) -> None:
    with as_app.connect() as connection, pytest.raises(DBAPIError) as refused:
        connection.exec_driver_sql(ddl)

    assert server_error_field(refused.value, "C") == INSUFFICIENT_PRIVILEGE


def test_the_app_role_owns_nothing_and_has_no_special_powers(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        owned = connection.scalars(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                "WHERE r.rolname = :role"
            ),
            {"role": APP_DB_ROLE},
        ).all()
        powers = connection.execute(
            text(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolreplication "
                "FROM pg_roles WHERE rolname = :role"
            ),
            {"role": APP_DB_ROLE},
        ).one()

    assert owned == []
    assert tuple(powers) == (False, False, False, False, False)


def test_the_app_role_reads_and_writes_users(as_app: Engine) -> None:
    with as_app.connect() as connection:
        user_id = connection.scalar(
            text("INSERT INTO users (email) VALUES ('role@example.com') RETURNING id")
        )
        connection.execute(
            text("UPDATE users SET full_name = 'Role' WHERE id = :id"), {"id": user_id}
        )
        name = connection.scalar(
            text("SELECT full_name FROM users WHERE id = :id"), {"id": user_id}
        )
        counted = connection.scalar(
            text("SELECT total FROM user_counts WHERE user_type = 'customer'")
        )
        deleted = connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})

    assert (name, counted, deleted.rowcount) == ("Role", 1, 1)


def test_the_app_role_gets_its_statement_timeout_from_the_server(as_app: Engine) -> None:
    with as_app.connect() as connection:
        timeout_ms = connection.scalar(
            text("SELECT setting FROM pg_settings WHERE name = 'statement_timeout'")
        )

    assert timeout_ms == str(get_settings().db_statement_timeout_ms)

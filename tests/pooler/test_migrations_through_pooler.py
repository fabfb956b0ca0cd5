"""Migrations work through a transaction-mode pooler, even two at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from lambda_app.migrate import alembic_config, handler
from tests.conftest import settings_env
from tests.pooler.conftest import StartPooler
from tests.pooler.test_pooler_race import run_together


@pytest.fixture
def fresh_database(postgres_server_url: str, database_url: str) -> Iterator[str]:
    """A new empty database on the test server (superuser URL); dropped afterwards."""
    name = f"users_pooled_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server_url).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# One server connection: the second migration's transaction waits in the pooler's queue.
# Two: both run at once on the server and meet at the migration lock.
@pytest.mark.parametrize("server_connections", [1, 2])
def test_two_concurrent_migrations_through_the_pooler_leave_the_schema_at_head_once(
    start_pooler: StartPooler, fresh_database: str, server_connections: int
) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    results: list[dict[str, Any]] = []
    errors: list[str] = []

    def migrate(_index: int) -> None:
        try:
            results.append(handler({"action": "upgrade"}))
        except Exception as error:  # every failure counts, whatever its type
            errors.append(f"{type(error).__name__}: {error}"[:300])

    with (
        start_pooler(server_connections) as pooler,
        settings_env(DATABASE_URL=pooler.url_for(fresh_database)),
    ):
        run_together(2, migrate)

    engine = create_engine(fresh_database)
    with engine.connect() as connection:
        versions = list(connection.scalars(text("SELECT version_num FROM alembic_version")))
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert errors == []
    assert [result["after"] for result in results] == [head, head]
    assert versions == [head]
    assert {"users", "user_counts"} <= tables

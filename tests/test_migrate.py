"""The migration Lambda and the Alembic scripts, against a real PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from lambda_app.migrate import MIGRATION_LOCK_ID, MigrationRequestError, handler
from lambda_app.models.tables import metadata
from tests.conftest import APP_DB_ROLE, settings_env

HEAD = "0006"
ALL_TABLES = {"alembic_version", "users", "user_counts", "idempotency_keys", "outbox_tasks"}


@pytest.fixture
def empty_database(postgres_server_url: str, database_url: str) -> Iterator[str]:
    """A new empty database on the test server, set as DATABASE_URL; dropped afterwards."""
    name = f"users_scratch_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    try:
        with settings_env(DATABASE_URL=url):
            yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tables_and_types(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        types = set(connection.scalars(text("SELECT typname FROM pg_type WHERE typtype = 'e'")))
    engine.dispose()
    return tables, types


def test_upgrade_is_the_default_and_reports_revisions(empty_database: str) -> None:
    result = handler({}, None)

    assert result == {"action": "upgrade", "before": None, "after": HEAD}
    assert tables_and_types(empty_database) == (ALL_TABLES, {"user_type"})


def test_upgrade_downgrade_base_upgrade_round_trip(empty_database: str) -> None:
    handler({"action": "upgrade", "revision": "head"})

    down = handler({"action": "downgrade", "revision": "base"})
    tables_after_downgrade, types_after_downgrade = tables_and_types(empty_database)
    up = handler({"action": "upgrade"})

    assert down == {"action": "downgrade", "before": HEAD, "after": None}
    assert tables_after_downgrade == {"alembic_version"}
    assert types_after_downgrade == set()
    assert up["after"] == HEAD
    assert tables_and_types(empty_database)[0] == ALL_TABLES


def test_current_reports_without_changing(empty_database: str) -> None:
    assert handler({"action": "current"}) == {"action": "current", "before": None, "after": None}
    handler({})
    assert handler({"action": "current"}) == {
        "action": "current",
        "before": HEAD,
        "after": HEAD,
    }


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, metadata)
    engine.dispose()

    assert differences == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "drop-everything"}, "Unknown action 'drop-everything'"),
        ({"action": "downgrade"}, 'needs a "revision"'),
        ({"action": "upgrade", "revision": 3}, "must be a string"),
    ],
)
def test_bad_requests_are_clear_errors(
    empty_database: str, event: dict[str, Any], message: str
) -> None:
    with pytest.raises(MigrationRequestError, match=message):
        handler(event)

    assert handler({"action": "current"})["after"] is None


def test_unknown_revision_fails_loudly(empty_database: str) -> None:
    with pytest.raises(Exception, match="nope"):
        handler({"action": "upgrade", "revision": "nope"})


def _waiting_for_advisory_lock(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    engine.dispose()
    return int(waiting or 0)


def test_a_second_migration_waits_for_the_lock_then_succeeds(empty_database: str) -> None:
    holder = create_engine(empty_database)
    results: list[dict[str, Any]] = []
    with holder.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        runner = threading.Thread(target=lambda: results.append(handler({})))
        runner.start()
        deadline = time.monotonic() + 30
        while _waiting_for_advisory_lock(empty_database) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)

        waiting = _waiting_for_advisory_lock(empty_database)
        before_release = tables_and_types(empty_database)[0]
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
    runner.join(timeout=60)
    holder.dispose()

    assert waiting == 1
    assert before_release == set()
    assert results == [{"action": "upgrade", "before": None, "after": HEAD}]


def test_two_concurrent_migrations_both_succeed_and_migrate_once(empty_database: str) -> None:
    results: list[dict[str, Any]] = []
    runners = [threading.Thread(target=lambda: results.append(handler({}))) for _ in range(2)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=60)

    transitions = sorted((str(result["before"]), str(result["after"])) for result in results)
    assert transitions == [(HEAD, HEAD), ("None", HEAD)]


def test_a_downgrade_by_one_step_reverts_only_the_newest_revision(empty_database: str) -> None:
    handler({})

    result = handler({"action": "downgrade", "revision": "-1"})

    assert result == {"action": "downgrade", "before": HEAD, "after": "0005"}
    assert tables_and_types(empty_database)[0] == ALL_TABLES - {"outbox_tasks"}


def test_a_downgrade_to_0004_reverts_0005(empty_database: str) -> None:
    handler({})

    result = handler({"action": "downgrade", "revision": "0004"})

    assert result == {"action": "downgrade", "before": HEAD, "after": "0004"}
    engine = create_engine(empty_database)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        columns = {column["name"] for column in inspect(connection).get_columns("users")}
        triggers = set(
            connection.scalars(
                text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass")
            )
        )
    engine.dispose()
    assert "idempotency_keys" not in tables
    assert "version" not in columns
    assert "users_bump_version" not in triggers
    assert {"users_count_inserts_deletes", "users_count_type_changes"} <= triggers


def test_a_downgrade_to_0003_brings_back_its_count_trigger(empty_database: str) -> None:
    handler({})

    result = handler({"action": "downgrade", "revision": "0003"})

    assert result == {"action": "downgrade", "before": HEAD, "after": "0003"}
    engine = create_engine(empty_database)
    with engine.connect() as connection:
        triggers = set(
            connection.scalars(
                text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'users'::regclass")
            )
        )
    engine.dispose()
    assert {"users_count_rows", "users_count_truncate"} <= triggers
    assert not triggers & {"users_count_inserts_deletes", "users_count_type_changes"}


def test_a_downgrade_to_0002_removes_the_counts(empty_database: str) -> None:
    handler({})

    result = handler({"action": "downgrade", "revision": "0002"})

    assert result == {"action": "downgrade", "before": HEAD, "after": "0002"}
    engine = create_engine(empty_database)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        columns = {column["name"] for column in inspect(connection).get_columns("users")}
        functions = connection.scalar(
            text("SELECT count(*) FROM pg_proc WHERE proname = 'count_users_by_type'")
        )
    engine.dispose()
    assert tables == {"alembic_version", "users"}
    assert functions == 0
    assert {"email", "subject"} <= columns


# --- bootstrap-admin


def test_bootstrap_admin_creates_an_admin_linked_to_the_subject(
    database_url: str, app_env: Any
) -> None:
    result = handler(
        {"action": "bootstrap-admin", "email": " Boss@Example.com", "subject": "sub-1"}
    )

    engine = create_engine(database_url)
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT id, email, user_type, subject FROM users WHERE subject = 'sub-1'")
        ).one()
    engine.dispose()
    assert result == {"action": "bootstrap-admin", "user_id": str(row.id), "created": True}
    assert (row.email, row.user_type, row.subject) == ("boss@example.com", "admin", "sub-1")


def test_bootstrap_admin_promotes_an_existing_user_once(
    database_url: str, app_env: Any, db_engine: Any
) -> None:
    from tests.conftest import insert_user

    user_id = insert_user(db_engine, email="later@example.com", user_type="customer", subject=None)

    first = handler({"action": "bootstrap-admin", "email": "later@example.com", "subject": "s-2"})
    again = handler({"action": "bootstrap-admin", "email": "later@example.com", "subject": "s-2"})

    assert first == again == {"action": "bootstrap-admin", "user_id": user_id, "created": False}
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT user_type, subject FROM users")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("admin", "s-2")]


@pytest.mark.parametrize(
    "event",
    [
        {"action": "bootstrap-admin", "email": "not-an-email", "subject": "s"},
        {"action": "bootstrap-admin", "email": "a@example.com"},
        {"action": "bootstrap-admin", "subject": "s"},
        {"action": "bootstrap-admin", "email": "a@example.com", "subject": ""},
    ],
)
def test_bootstrap_admin_without_valid_email_and_subject_is_a_clear_error(
    database_url: str, app_env: Any, event: dict[str, Any]
) -> None:
    with pytest.raises(MigrationRequestError, match="bootstrap-admin needs email and subject"):
        handler(event)


def test_a_migration_that_cannot_get_a_table_lock_fails_instead_of_stalling_requests(
    empty_database: str,
) -> None:
    handler({})
    live = create_engine(empty_database)
    with (
        settings_env(MIGRATION_LOCK_TIMEOUT_MS="200", MIGRATION_ATTEMPTS="2"),
        live.connect() as request,
    ):
        # A live request's open write holds a lock that dropping 0003's trigger must wait for.
        request.execute(
            text("INSERT INTO users (email, user_type) VALUES ('live@example.com', 'customer')")
        )
        with pytest.raises(DBAPIError) as failure:
            handler({"action": "downgrade", "revision": "0004"})
        request.commit()
    live.dispose()

    assert "lock timeout" in str(failure.value.orig)
    assert handler({"action": "current"})["after"] == HEAD


def test_upgrade_creates_the_app_role_with_dml_only_and_its_statement_timeout(
    empty_database: str,
) -> None:
    role = f"users_app_{uuid.uuid4().hex[:8]}"
    with settings_env(
        APP_DB_ROLE=role, APP_DB_PASSWORD="app-role-pw", DB_STATEMENT_TIMEOUT_MS="1500"
    ):
        handler({})
    engine = create_engine(empty_database)
    try:
        with engine.connect() as connection:
            role_config = connection.scalar(
                text("SELECT rolconfig FROM pg_roles WHERE rolname = :role"), {"role": role}
            )
            stored = connection.scalar(
                text("SELECT rolpassword FROM pg_authid WHERE rolname = :role"), {"role": role}
            )
            grants = connection.execute(
                text(
                    "SELECT table_name, privilege_type"
                    " FROM information_schema.role_table_grants WHERE grantee = :role"
                ),
                {"role": role},
            )
            privileges = {(row.table_name, row.privilege_type) for row in grants}
            owned = connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE tableowner = :role"), {"role": role}
            )
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
        engine.dispose()

    assert role_config == ["statement_timeout=1500ms"]
    assert stored.startswith("SCRAM-SHA-256$4096:")  # never the password itself
    dml = {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert privileges == {
        (table, kind) for table in ALL_TABLES - {"alembic_version"} for kind in dml
    }
    assert owned == 0


def test_bootstrap_admin_with_email_of_one_user_and_subject_of_another_is_a_clear_error(
    database_url: str, app_env: Any, db_engine: Any
) -> None:
    from lambda_app.exceptions import BootstrapConflictError
    from tests.conftest import insert_user

    insert_user(db_engine, email="one@example.com", user_type="customer", subject=None)
    insert_user(db_engine, email="two@example.com", user_type="customer", subject="sub-two")

    with pytest.raises(BootstrapConflictError, match="one user and the subject to another"):
        handler({"action": "bootstrap-admin", "email": "one@example.com", "subject": "sub-two"})

    with db_engine.connect() as connection:
        rows = connection.execute(text("SELECT email, user_type, subject FROM users")).all()
    assert sorted(tuple(row) for row in rows) == [
        ("one@example.com", "customer", None),
        ("two@example.com", "customer", "sub-two"),
    ]


def test_prod_refuses_a_downgrade_to_base_unless_the_event_confirms_it(
    empty_database: str,
) -> None:
    handler({})

    with settings_env(STAGE="prod"), pytest.raises(MigrationRequestError, match="confirm"):
        handler({"action": "downgrade", "revision": "base"})
    kept = handler({"action": "current"})["after"]
    with settings_env(STAGE="prod"):
        wiped = handler({"action": "downgrade", "revision": "base", "confirm": "drop every table"})

    assert kept == HEAD
    assert wiped["after"] is None


def test_0004_recounts_the_totals_that_0003_got_wrong(empty_database: str) -> None:
    handler({"action": "upgrade", "revision": "0003"})
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO users (email, user_type) VALUES ('a@example.com', 'staff')")
        )
        # What 0003's backfill could miss: rows committed between its count and its trigger.
        connection.execute(text("UPDATE user_counts SET total = 0"))
        connection.execute(text("DELETE FROM user_counts WHERE user_type = 'admin'"))

    handler({})

    with engine.connect() as connection:
        totals = dict(
            connection.execute(text("SELECT user_type::text, total FROM user_counts")).all()
        )
    engine.dispose()
    assert totals == {"admin": 0, "staff": 1, "customer": 0}


# --- a database a newer release migrated (tests/lifecycle/ replays it with the previous code)

NEWER_REVISION = "0999"


def _stamp(url: str, revision: str) -> None:
    """Record `revision` as the database's, as a newer release's migration would."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_a_downgrade_of_a_database_a_newer_release_migrated_fails_loudly(
    empty_database: str,
) -> None:
    handler({})
    _stamp(empty_database, NEWER_REVISION)

    with pytest.raises(MigrationRequestError, match=f"at revision {NEWER_REVISION}, which this"):
        handler({"action": "downgrade", "revision": "-1"})

    assert handler({"action": "current"})["after"] == NEWER_REVISION
    assert tables_and_types(empty_database) == (ALL_TABLES, {"user_type"})


def test_the_deploy_run_on_a_database_a_newer_release_migrated_says_so_in_its_log(
    empty_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    handler({})
    _stamp(empty_database, NEWER_REVISION)

    with caplog.at_level(logging.WARNING, logger="lambda_app.migrate"):
        result = handler({})

    assert result == {
        "action": "upgrade",
        "before": NEWER_REVISION,
        "after": NEWER_REVISION,
        "skipped": "database ahead",
    }
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert f"the database is at revision {NEWER_REVISION}" in warning.getMessage()
    assert f"(its newest is {HEAD})" in warning.getMessage()


def test_the_app_role_keeps_grants_on_tables_this_release_does_not_know(
    empty_database: str,
) -> None:
    handler({})
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        # A table a newer release made, with the grant its migration gave the app role.
        connection.execute(text("CREATE TABLE newer_release_table (id integer)"))
        connection.execute(text(f'GRANT SELECT ON newer_release_table TO "{APP_DB_ROLE}"'))

    handler({"action": "upgrade"})

    with engine.connect() as connection:
        kept = connection.scalar(
            text("SELECT has_table_privilege(:role, 'newer_release_table', 'SELECT')"),
            {"role": APP_DB_ROLE},
        )
    engine.dispose()
    assert kept is True

"""The bench's PostgreSQL: an embedded server (or `BENCH_DATABASE_URL`) and its databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pg8000.native
from sqlalchemy.engine import URL, make_url

if TYPE_CHECKING:
    from local.embedded_postgres import EmbeddedPostgres

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / ".local" / "bench-postgres"
SERVER_URL_VARIABLE = "BENCH_DATABASE_URL"
DRIVER = "postgresql+pg8000"
SEED_BATCH = 2_000


class BenchServer(NamedTuple):
    """The server the bench may create databases on: its URL, and the server if it is ours."""

    url: str
    embedded: EmbeddedPostgres | None


@contextmanager
def bench_server() -> Iterator[BenchServer]:
    """Yield a server the bench may create databases on; stop it if we started it.

    `BENCH_DATABASE_URL` names an existing server (its database is used for maintenance
    only); otherwise an embedded server runs from `.local/bench-postgres`.
    """
    given = os.environ.get(SERVER_URL_VARIABLE)
    if given:
        url = make_url(given).set(drivername=DRIVER).render_as_string(hide_password=False)
        yield BenchServer(url, None)
        return
    from local.embedded_postgres import EmbeddedPostgres

    server = EmbeddedPostgres(DATA_DIR).start()
    try:
        yield BenchServer(server.url, server)
    finally:
        server.stop()


def connect(url: str) -> pg8000.native.Connection:
    """Open a pg8000 connection (autocommit) to the database named by a SQLAlchemy URL."""
    parsed = make_url(url)
    return pg8000.native.Connection(
        user=parsed.username or "postgres",
        password=parsed.password,
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        database=parsed.database,
    )


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`."""
    url: URL = make_url(server_url).set(database=name)
    return url.render_as_string(hide_password=False)


def recreate_database(server_url: str, name: str) -> str:
    """Drop database `name` if it exists, create it empty and return its URL."""
    connection = connect(server_url)
    try:
        connection.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.run(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, disconnecting whoever is still on it."""
    connection = connect(server_url)
    try:
        connection.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def migrate_and_bootstrap(url: str, *, email: str, subject: str) -> str:
    """Migrate `url` to head and create the admin caller with the app's own migration handler.

    Returns the admin's id. Sets `DATABASE_URL` for this process, as the app reads it there.
    """
    os.environ["DATABASE_URL"] = url
    from lambda_app.config import get_settings
    from lambda_app.migrate import handler as migrate

    get_settings.cache_clear()
    migrate({"action": "upgrade"})
    result: dict[str, Any] = migrate(
        {"action": "bootstrap-admin", "email": email, "subject": subject}
    )
    return str(result["user_id"])


def seed_users(url: str, count: int, *, prefix: str) -> None:
    """Insert `count` customers with distinct emails and creation times, then ANALYZE."""
    connection = connect(url)
    try:
        # In batches: every row's deferred count trigger updates the same counter row at
        # commit, and each update walks that row's versions from the transaction so far, so
        # one transaction costs the square of its rows (100,000 at once took minutes).
        anchor = connection.run("SELECT now()")[0][0]
        for first in range(1, count + 1, SEED_BATCH):
            connection.run(
                "INSERT INTO users (email, full_name, user_type, created_at, updated_at) "
                "SELECT :prefix || '-' || g || '@example.com', 'Bench User ' || g, 'customer', "
                "t, t FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS g, "
                "LATERAL (SELECT CAST(:anchor AS timestamptz) - g * interval '1 second') AS at (t)",
                prefix=prefix,
                first=first,
                last=min(first + SEED_BATCH - 1, count),
                anchor=anchor,
            )
        connection.run("ANALYZE users")
    finally:
        connection.close()


def user_id_by_email(url: str, email: str) -> str:
    """The id of the user with `email`."""
    connection = connect(url)
    try:
        return str(connection.run("SELECT id FROM users WHERE email = :email", email=email)[0][0])
    finally:
        connection.close()


def point_handlers_at(url: str) -> None:
    """Make the app and both floors use database `url` from their next request on.

    All read `DATABASE_URL`; the app caches its settings and engine, each floor its
    connection, so all are dropped (as the test suite's `settings_env` does).
    """
    from lambda_app.config import get_settings

    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    close_handlers()


def close_handlers() -> None:
    """Close the connections the app and both floors keep open."""
    from bench import floor_handler, raw_handler
    from lambda_app.db import dispose_engine

    dispose_engine()
    raw_handler.close_connection()
    floor_handler.close_connection()


@contextmanager
def seeded(name: str, *, email: str, subject: str, users: int, target_email: str) -> Iterator[str]:
    """A new database `name` on the bench server, with the admin caller and `users` customers.

    The handlers point at it meanwhile; yields the id of the user with `target_email`. The
    database is dropped afterwards.
    """
    with bench_server() as server:
        server_url = server.url
        url = recreate_database(server_url, name)
        try:
            migrate_and_bootstrap(url, email=email, subject=subject)
            seed_users(url, users, prefix="seed")
            point_handlers_at(url)
            try:
                yield user_id_by_email(url, target_email)
            finally:
                close_handlers()
        finally:
            drop_database(server_url, name)


def server_version(url: str) -> str:
    """The server's `SELECT version()`, shortened to name, number and platform."""
    connection = connect(url)
    try:
        return str(connection.run("SHOW server_version")[0][0])
    finally:
        connection.close()

"""A real streaming replica for the tests here: a primary, its hot standby, the app on both.

A second embedded PostgreSQL runs as a hot standby of a first one (pg_basebackup, WAL
streaming); lag is injected with pg_wal_replay_pause() on the standby. The app talks to
the primary as its least-privilege role and to the standby through DB_READER_HOST.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from lambda_app.main import create_app
from lambda_app.read_routing import READ_FROM, REPLICA_STATE, reader_health
from lambda_app.utils.json_logs import JsonFormatter
from local.embedded_postgres import EmbeddedPostgres
from local.replica import start_standby, wait_for_replay
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_SUBJECT,
    ROOT,
    TEST_BUCKET,
    as_app_role,
    bearer,
    insert_user,
    settings_env,
)

CATCH_UP_SECONDS = 30.0


class Servers:
    """The primary, its standby, and superuser engines on both (autocommit)."""

    def __init__(self, primary: EmbeddedPostgres, standby: EmbeddedPostgres, url: str) -> None:
        self.primary = primary
        self.standby = standby
        self.url = url
        self.writer: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.replica_url = make_url(url).set(port=standby.port).render_as_string(False)
        self.replica: Engine = create_engine(
            self.replica_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True
        )

    def pause_replay(self) -> None:
        with self.replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_pause()"))

    def resume_replay_and_catch_up(self) -> None:
        with self.replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
        wait_for_replay(self.url, self.replica_url, timeout=CATCH_UP_SECONDS)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """A primary with the migrated schema and the app role, and its hot standby."""
    data = ROOT / ".local" / "test-replica" / str(os.getpid())
    primary = EmbeddedPostgres(data / "primary").start()
    standby: EmbeddedPostgres | None = None
    try:
        url = primary.url_for("postgres")
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text('CREATE DATABASE "users"'))
        url = primary.url_for("users")
        with settings_env(DATABASE_URL=url):
            from lambda_app.migrate import handler as migrate

            migrate({"action": "upgrade"})
        standby = start_standby(primary, data / "standby")
        found = Servers(primary, standby, url)
        yield found
        found.writer.dispose()
        found.replica.dispose()
    finally:
        if standby is not None:
            standby.remove()
        primary.remove()


@pytest.fixture
def replica_app(servers: Servers) -> Iterator[None]:
    """The app's settings: the primary (as its role), the standby as DB_READER_HOST, moto S3.

    An admin exists on both servers; the tables are emptied after the test.
    """
    from moto import mock_aws

    servers.resume_replay_and_catch_up()
    insert_user(servers.writer, email=ADMIN_EMAIL, user_type="admin", subject=ADMIN_SUBJECT)
    servers.resume_replay_and_catch_up()
    reader_health.reset()
    variables = {
        "DATABASE_URL": as_app_role(servers.url),
        "DB_READER_HOST": "127.0.0.1",
        "DB_READER_PORT": str(servers.standby.port),
        "S3_BUCKET": TEST_BUCKET,
    }
    with mock_aws(), settings_env(**variables):
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=TEST_BUCKET)
        yield
    servers.resume_replay_and_catch_up()
    with servers.writer.connect() as connection:
        connection.execute(text("TRUNCATE users, idempotency_keys, outbox_tasks"))


@pytest.fixture
def client(replica_app: None) -> Iterator[TestClient]:
    """A test client of the app on the primary and its standby, as an admin."""
    with TestClient(create_app(), raise_server_exceptions=False, headers=bearer()) as test_client:
        yield test_client


class RoutingLog(logging.Handler):
    """The servers that answered list pages, as the app's JSON log lines name them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.answered_by: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(self.format(record))
        if READ_FROM in line:
            state = line.get(REPLICA_STATE)
            self.answered_by.append(f"{line[READ_FROM]} ({state})" if state else line[READ_FROM])


@pytest.fixture
def routing_log() -> Iterator[RoutingLog]:
    """What the app logs about each page sent with Read-After, from the test's start."""
    logger = logging.getLogger("lambda_app.read_routing")
    handler = RoutingLog()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)

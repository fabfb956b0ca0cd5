"""List pages on a real streaming replica: routed as designed, never behind the caller's write.

A second embedded PostgreSQL runs as a hot standby of a first one (pg_basebackup, WAL
streaming); lag is injected with pg_wal_replay_pause() on the standby. The app talks to
the primary as its least-privilege role and to the standby through DB_READER_HOST.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from lambda_app.main import create_app
from lambda_app.read_routing import READ_AFTER_HEADER, reader_health
from local.embedded_postgres import EmbeddedPostgres
from local.replica import start_standby
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

pytestmark = pytest.mark.direct_database
CATCH_UP_SECONDS = 30.0


class Servers:
    """The primary, its standby, and superuser engines on both (autocommit)."""

    def __init__(self, primary: EmbeddedPostgres, standby: EmbeddedPostgres, url: str) -> None:
        self.primary = primary
        self.standby = standby
        self.url = url
        self.writer: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
        replica_url = make_url(url).set(port=standby.port)
        self.replica: Engine = create_engine(
            replica_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True
        )

    def pause_replay(self) -> None:
        with self.replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_pause()"))

    def resume_replay_and_catch_up(self) -> None:
        with self.writer.connect() as connection:
            target = connection.scalar(text("SELECT pg_current_wal_lsn()"))
        with self.replica.connect() as connection:
            connection.execute(text("SELECT pg_wal_replay_resume()"))
            deadline = time.monotonic() + CATCH_UP_SECONDS
            replayed = text("SELECT pg_last_wal_replay_lsn() >= CAST(:target AS pg_lsn)")
            while not connection.scalar(replayed, {"target": target}):
                assert time.monotonic() < deadline, "the standby did not catch up"
                time.sleep(0.05)


@pytest.fixture(scope="module")
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
def client(servers: Servers) -> Iterator[TestClient]:
    """The app on the primary (as its role) with the standby as DB_READER_HOST, as an admin."""
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
        app = create_app()
        with TestClient(app, raise_server_exceptions=False, headers=bearer()) as test_client:
            yield test_client
    servers.resume_replay_and_catch_up()
    with servers.writer.connect() as connection:
        connection.execute(text("TRUNCATE users, idempotency_keys, outbox_tasks"))


def _create(client: TestClient, **fields: Any) -> tuple[dict[str, Any], str]:
    body = {"email": f"user-{uuid.uuid4().hex[:8]}@example.com", **fields}
    response = client.post("/users", json=body)
    assert response.status_code == 201, response.text
    return response.json(), response.headers["ETag"]


def _emails(client: TestClient, read_after: str | None = None) -> set[str]:
    headers = {READ_AFTER_HEADER: read_after} if read_after else {}
    response = client.get("/users", params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return {user["email"] for user in response.json()["items"]}


def test_a_page_after_a_write_the_replica_holds_is_served_by_the_replica(
    client: TestClient, servers: Servers
) -> None:
    mine, etag = _create(client)
    servers.resume_replay_and_catch_up()
    servers.pause_replay()
    # Someone else's write, which only the writer has now.
    theirs = insert_user(
        servers.writer, email="theirs@example.com", user_type="staff", subject=None
    )
    assert theirs
    from_replica = _emails(client, read_after=etag)
    assert mine["email"] in from_replica
    assert "theirs@example.com" not in from_replica  # the replica answered
    assert "theirs@example.com" in _emails(client)  # without Read-After, the writer answers


def test_a_caller_never_sees_its_own_write_go_backwards(
    client: TestClient, servers: Servers
) -> None:
    servers.pause_replay()
    etag = None
    created = []
    for _ in range(3):
        user, etag = _create(client)
        created.append(user)
        # The replica has none of these: each page falls back to the writer and shows them all.
        assert {user["email"] for user in created} <= _emails(client, read_after=etag)
    renamed = client.patch(f"/users/{created[0]['id']}", json={"full_name": "Ada L."})
    assert renamed.status_code == 200
    page = client.get(
        "/users", params={"limit": 100}, headers={READ_AFTER_HEADER: renamed.headers["ETag"]}
    )
    names = {user["id"]: user["full_name"] for user in page.json()["items"]}
    assert names[created[0]["id"]] == "Ada L."
    # Once the replica has caught up it answers, and still shows every one of them.
    servers.resume_replay_and_catch_up()
    servers.pause_replay()
    insert_user(servers.writer, email="later@example.com", user_type="staff", subject=None)
    served = client.get(
        "/users", params={"limit": 100}, headers={READ_AFTER_HEADER: renamed.headers["ETag"]}
    )
    emails = {user["email"] for user in served.json()["items"]}
    assert "later@example.com" not in emails  # the replica answered
    assert {user["email"] for user in created} <= emails
    assert {user["id"]: user["full_name"] for user in served.json()["items"]}[created[0]["id"]] == (
        "Ada L."
    )


def test_after_a_delete_the_page_without_read_after_no_longer_shows_the_user(
    client: TestClient, servers: Servers
) -> None:
    user, _ = _create(client)
    servers.resume_replay_and_catch_up()
    servers.pause_replay()
    assert client.delete(f"/users/{user['id']}").status_code == 204
    # A DELETE answers no ETag: the caller sends no Read-After and the writer answers,
    # although the replica still holds the user.
    assert user["email"] not in _emails(client)
    with servers.replica.connect() as connection:
        on_replica = connection.scalar(text("SELECT count(*) FROM users WHERE id = :id"), user)
    assert on_replica == 1


def test_a_replica_that_is_down_fails_over_to_the_writer(
    client: TestClient, servers: Servers
) -> None:
    mine, etag = _create(client)
    servers.resume_replay_and_catch_up()
    servers.standby.stop()
    try:
        started = time.monotonic()
        assert mine["email"] in _emails(client, read_after=etag)
        assert not reader_health.usable()  # the next pages skip the replica at once
        assert mine["email"] in _emails(client, read_after=etag)
        assert time.monotonic() - started < 5
    finally:
        servers.standby.start()


def test_a_read_after_that_is_no_etag_of_this_api_is_refused(client: TestClient) -> None:
    response = client.get("/users", headers={READ_AFTER_HEADER: "yesterday"})
    assert response.status_code == 422
    assert READ_AFTER_HEADER in response.json()["detail"]

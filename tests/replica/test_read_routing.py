"""List pages on a real streaming replica: routed as designed, never behind the caller's write.

The servers and the app's settings come from conftest.py: a primary, its hot standby
(lag injected with pg_wal_replay_pause()), the standby as DB_READER_HOST.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from lambda_app.read_routing import READ_AFTER_HEADER, reader_health
from tests.conftest import insert_user
from tests.replica.conftest import RoutingLog, Servers

pytestmark = pytest.mark.direct_database


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
    client: TestClient, servers: Servers, routing_log: RoutingLog
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
    assert routing_log.answered_by == ["replica"]  # the page without Read-After logs nothing


def test_a_caller_never_sees_its_own_write_go_backwards(
    client: TestClient, servers: Servers, routing_log: RoutingLog
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
    assert routing_log.answered_by == ["writer (behind)"] * 4 + ["replica"]


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
    client: TestClient, servers: Servers, routing_log: RoutingLog
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
        assert routing_log.answered_by == ["writer (failed)", "writer (skipped)"]
    finally:
        servers.standby.start()


def test_a_read_after_that_is_no_etag_of_this_api_is_refused(client: TestClient) -> None:
    response = client.get("/users", headers={READ_AFTER_HEADER: "yesterday"})
    assert response.status_code == 422
    assert READ_AFTER_HEADER in response.json()["detail"]

"""Failing dependencies: a 5xx problem within bounded time, and nothing half-written."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.events import http_api_event
from lambda_app.main import create_app
from local.embedded_postgres import free_port
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_SUBJECT,
    TEST_BUCKET,
    bearer,
    insert_user,
    settings_env,
)
from tests.resetting_relay import resetting_relay
from tests.routers.test_users import assert_problem

KILL_APP_CONNECTIONS = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE application_name = 'users-service' AND pid <> pg_backend_pid()"
)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


# --- S3


@pytest.fixture
def refusing_s3(app_env: Any) -> Iterator[None]:
    """Point S3 at a loopback port where nothing listens."""
    with settings_env(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}"):
        yield


def pending_tasks(db_engine: Any) -> list[tuple[str, str, int]]:
    """(kind, subject, attempts) of each pending outbox task."""
    with db_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT kind, subject, attempts FROM outbox_tasks"
                " WHERE dead_lettered_at IS NULL ORDER BY id"
            )
        )
        return [(row.kind, row.subject, row.attempts) for row in rows]


def test_delete_user_when_s3_refuses_is_202_and_leaves_the_files_to_the_outbox(
    admin: dict[str, Any], refusing_s3: None, db_engine: Any
) -> None:
    client = TestClient(create_app(), headers=admin["headers"])
    user = client.post("/users", json={"email": "gone@example.com"}).json()

    response = client.delete(f"/users/{user['id']}")

    assert response.status_code == 202
    assert response.json() == {"id": user["id"], "files": "pending"}
    assert_problem(client.get(f"/users/{user['id']}"), 404)
    assert pending_tasks(db_engine) == [("delete_user_files", user["id"], 1)]


@pytest.mark.parametrize(("method", "json"), [("get", None), ("delete", None)])
def test_avatar_routes_when_s3_refuses_are_502(
    admin: dict[str, Any], refusing_s3: None, method: str, json: Any
) -> None:
    client = TestClient(create_app(), headers=admin["headers"])
    user = client.post("/users", json={"email": "s3down@example.com"}).json()

    assert_problem(client.request(method, f"/users/{user['id']}/avatar", json=json), 502)


def test_s3_that_never_answers_is_502_within_bounded_time(
    admin: dict[str, Any], silent_server: int
) -> None:
    with settings_env(
        S3_ENDPOINT_URL=f"http://127.0.0.1:{silent_server}",
        S3_READ_TIMEOUT="1",
        S3_MAX_ATTEMPTS="2",
    ):
        client = TestClient(create_app(), headers=admin["headers"])
        user = client.post("/users", json={"email": "slow@example.com"}).json()
        started = time.monotonic()
        response = client.get(f"/users/{user['id']}/avatar")
        elapsed = time.monotonic() - started

    assert_problem(response, 502)
    # A hang guard, not a speed check: 1 s read timeout x 2 attempts, with a wide margin.
    assert elapsed < 20


def test_avatar_routes_without_a_bucket_are_503(s3: Any, admin: dict[str, Any]) -> None:
    with settings_env(S3_BUCKET=None):
        client = TestClient(create_app(), headers=admin["headers"])
        user = client.post("/users", json={"email": "nobucket@example.com"}).json()
        response = client.post(f"/users/{user['id']}/avatar", json={"content_type": "image/png"})
        deleted = client.delete(f"/users/{user['id']}")

    assert assert_problem(response, 503)["title"] == "File storage not configured"
    assert deleted.status_code == 204


# --- PostgreSQL


@pytest.fixture
def unreachable_database(s3: Any) -> Iterator[None]:
    with settings_env(
        DATABASE_URL=f"postgresql://u:secret-pw@127.0.0.1:{free_port()}/db", S3_BUCKET=TEST_BUCKET
    ):
        yield


def test_health_is_ok_after_a_real_query(client: TestClient) -> None:
    response = client.get("/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_health_is_503_when_the_database_is_unreachable(unreachable_database: None) -> None:
    response = TestClient(create_app()).get("/health")

    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})


def test_health_is_503_when_no_database_is_configured(s3: Any) -> None:
    with settings_env(DATABASE_URL=None, DB_SECRET_ARN=None):
        response = TestClient(create_app()).get("/health")

    assert response.status_code == 503


def test_health_answers_503_within_the_timeout_when_the_server_hangs(silent_server: int) -> None:
    with settings_env(
        DATABASE_URL=f"postgresql://u:p@127.0.0.1:{silent_server}/db", DB_CONNECT_TIMEOUT="1"
    ):
        started = time.monotonic()
        response = TestClient(create_app()).get("/health")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert elapsed < 15  # a hang guard: the socket timeout is 1 s


@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("get", "/users", None),
        ("post", "/users", {"email": "x@example.com"}),
        ("get", f"/users/{uuid.uuid4()}", None),
        ("patch", f"/users/{uuid.uuid4()}", {"full_name": "x"}),
        ("delete", f"/users/{uuid.uuid4()}", None),
    ],
)
def test_data_routes_are_503_problem_when_the_database_is_unreachable(
    unreachable_database: None, method: str, path: str, json: Any
) -> None:
    response = TestClient(create_app(), headers=bearer()).request(method, path, json=json)

    body = assert_problem(response, 503)
    assert "secret-pw" not in response.text
    assert "Traceback" not in body["detail"]


@pytest.mark.direct_database  # the app's own server connection must be the one killed
def test_a_killed_connection_is_replaced_on_the_next_request(
    client: TestClient, database_url: str
) -> None:
    from sqlalchemy import create_engine

    assert client.get("/users").status_code == 200
    admin = create_engine(database_url)
    with admin.begin() as connection:
        connection.execute(KILL_APP_CONNECTIONS)
    admin.dispose()

    assert client.get("/users").status_code == 200


@pytest.mark.direct_database
def test_a_delete_on_a_replaced_connection_deletes_once_and_keeps_the_files_task(
    admin: dict[str, Any], refusing_s3: None, db_engine: Any
) -> None:
    client = TestClient(create_app(), headers=admin["headers"])
    user = client.post("/users", json={"email": "gone-after-reconnect@example.com"}).json()
    with db_engine.begin() as connection:
        connection.execute(KILL_APP_CONNECTIONS)

    # The delete's first statement meets the dead connection and runs again on a new one.
    assert client.delete(f"/users/{user['id']}").status_code == 202

    assert_problem(client.get(f"/users/{user['id']}"), 404)
    assert pending_tasks(db_engine) == [("delete_user_files", user["id"], 1)]


def test_a_connection_reset_by_the_network_is_replaced_within_the_request(
    admin: dict[str, Any], refusing_s3: None, app_env: dict[str, str]
) -> None:
    database = make_url(app_env["DATABASE_URL"])
    with resetting_relay(database.host or "127.0.0.1", database.port or 5432) as relay:
        relayed = database.set(host="127.0.0.1", port=relay.port)
        with settings_env(DATABASE_URL=relayed.render_as_string(hide_password=False)):
            client = TestClient(create_app(), headers=admin["headers"])
            user = client.post("/users", json={"email": "kept-after-reset@example.com"}).json()

            # A proxy or NAT that dropped the idle connection answers its next request with RST.
            relay.reset_on_next_request()
            assert client.get(f"/users/{user['id']}").json() == {
                key: value for key, value in user.items() if key != "identity"
            }
            relay.reset_on_next_request()
            assert client.delete(f"/users/{user['id']}").status_code == 202  # S3 refuses

            assert_problem(client.get(f"/users/{user['id']}"), 404)
    assert (relay.resets, relay.connections) == (2, 3)


def test_a_database_that_stops_answering_mid_request_is_503_within_bounded_time(
    admin: dict[str, Any], app_env: dict[str, str]
) -> None:
    database = make_url(app_env["DATABASE_URL"])
    with resetting_relay(database.host or "127.0.0.1", database.port or 5432) as relay:
        relayed = database.set(host="127.0.0.1", port=relay.port)
        with settings_env(
            DATABASE_URL=relayed.render_as_string(hide_password=False), DB_CONNECT_TIMEOUT="1"
        ):
            client = TestClient(create_app(), headers=admin["headers"])
            assert client.get("/users/me").status_code == 200
            relay.stall()

            started = time.monotonic()
            response = client.get("/users/me")
            elapsed = time.monotonic() - started

    body = assert_problem(response, 503)
    assert "Traceback" not in body["detail"]
    assert elapsed < 15  # a hang guard: 1 s read timeout, then 1 s to connect again


class HangingS3:
    """A loopback "S3" that accepts connections and answers none until released."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.called = threading.Event()
        self.released = threading.Event()
        self.connections = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)
            self.connections += 1
            self.called.set()
            if self.released.is_set():
                connection.close()

    def release(self) -> None:
        """Close every held connection, and each later one at once: S3 fails fast from now on."""
        self.released.set()
        for connection in self._held:
            connection.close()

    def close(self) -> None:
        self.release()
        self._listener.close()


@pytest.fixture
def hanging_s3() -> Iterator[HangingS3]:
    server = HangingS3()
    try:
        yield server
    finally:
        server.close()


def test_requests_on_the_only_pooled_connection_go_through_while_a_delete_waits_for_s3(
    admin: dict[str, Any], hanging_s3: HangingS3, db_engine: Any
) -> None:
    # One connection in the pool (Lambda's setting): if the delete held it, nothing else runs.
    with settings_env(
        S3_ENDPOINT_URL=f"http://127.0.0.1:{hanging_s3.port}",
        S3_READ_TIMEOUT="20",
        S3_MAX_ATTEMPTS="1",
        DB_POOL_SIZE="1",
        DB_CONNECT_TIMEOUT="3",
    ):
        app = create_app()
        admins = TestClient(app, headers=admin["headers"], raise_server_exceptions=False)
        victim = admins.post("/users", json={"email": "victim@example.com"}).json()
        deleted: list[int] = []
        deleting = threading.Thread(
            target=lambda: deleted.append(admins.delete(f"/users/{victim['id']}").status_code)
        )
        deleting.start()
        assert hanging_s3.called.wait(timeout=30), "the delete never reached S3"

        # S3 holds the delete; a sign-up and a read need the pool's one connection.
        signed_up = TestClient(app, raise_server_exceptions=False).post(
            "/users/me", headers=bearer("newcomer", "newcomer@example.com")
        )
        read = admins.get(f"/users/{admin['id']}")
        hanging_s3.release()
        deleting.join(timeout=30)

    assert signed_up.status_code == 201, signed_up.text
    assert read.status_code == 200, read.text
    assert deleted == [202]


# --- the time a Lambda invocation has left


def invocation(seconds_left: float) -> Any:
    """A Lambda context whose invocation has `seconds_left` (counted from now)."""
    ends = time.monotonic() + seconds_left
    return SimpleNamespace(
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: int((ends - time.monotonic()) * 1000),
    )


def invoke(method: str, path: str, seconds_left: float) -> dict[str, Any]:
    """Call the Lambda entry point as API Gateway would, for the admin."""
    from lambda_app.handler import handler

    event = http_api_event(method, path, subject=ADMIN_SUBJECT, email=ADMIN_EMAIL)
    return dict(handler(event, invocation(seconds_left)))


def test_an_s3_attempt_that_could_outlast_the_invocation_is_not_sent(
    admin: dict[str, Any], hanging_s3: HangingS3, db_engine: Any
) -> None:
    user = insert_user(db_engine, email="late@example.com", user_type="customer", subject=None)
    # An attempt may take 2 s to connect and 5 s to read; 3 s are left.
    with settings_env(S3_ENDPOINT_URL=f"http://127.0.0.1:{hanging_s3.port}", S3_BUCKET=TEST_BUCKET):
        read = invoke("GET", f"/users/{user}/avatar", seconds_left=3)
        deleted = invoke("DELETE", f"/users/{user}", seconds_left=3)

    assert read["statusCode"] == 502
    assert "time" in json.loads(read["body"])["detail"]
    assert deleted["statusCode"] == 202  # the user is gone; the outbox deletes the files later
    assert pending_tasks(db_engine) == [("delete_user_files", user, 1)]
    assert hanging_s3.connections == 0


def test_a_retry_that_could_outlast_the_invocation_is_not_sent(
    admin: dict[str, Any], hanging_s3: HangingS3, db_engine: Any
) -> None:
    user = insert_user(db_engine, email="retry@example.com", user_type="customer", subject=None)
    with settings_env(
        S3_ENDPOINT_URL=f"http://127.0.0.1:{hanging_s3.port}",
        S3_BUCKET=TEST_BUCKET,
        S3_CONNECT_TIMEOUT="1",
        S3_READ_TIMEOUT="3",
        S3_MAX_ATTEMPTS="5",
    ):
        # 5.5 s to work with: the first attempt (up to 4 s) fits, a second would not.
        read = invoke("GET", f"/users/{user}/avatar", seconds_left=6.5)

    assert read["statusCode"] == 502
    assert hanging_s3.connections == 1

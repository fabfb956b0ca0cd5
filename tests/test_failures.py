"""Failing dependencies: a 5xx problem within bounded time, and nothing half-written."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lambda_app.main import create_app
from local.embedded_postgres import free_port
from tests.conftest import TEST_BUCKET, bearer, settings_env
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


def test_delete_user_when_s3_refuses_is_502_and_keeps_the_user(
    admin: dict[str, Any], refusing_s3: None
) -> None:
    client = TestClient(create_app(), headers=admin["headers"])
    user = client.post("/users", json={"email": "keep@example.com"}).json()

    body = assert_problem(client.delete(f"/users/{user['id']}"), 502)

    assert "S3" in body["detail"]
    assert client.get(f"/users/{user['id']}").json() == user


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
def test_a_delete_on_a_replaced_connection_still_keeps_the_user_when_s3_fails(
    admin: dict[str, Any], refusing_s3: None, db_engine: Any
) -> None:
    client = TestClient(create_app(), headers=admin["headers"])
    user = client.post("/users", json={"email": "kept-after-reconnect@example.com"}).json()
    with db_engine.begin() as connection:
        connection.execute(KILL_APP_CONNECTIONS)

    # The delete's first statement meets the dead connection and runs again on a new one.
    assert_problem(client.delete(f"/users/{user['id']}"), 502)

    assert client.get(f"/users/{user['id']}").json() == user


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
            assert client.get(f"/users/{user['id']}").json() == user
            relay.reset_on_next_request()
            assert_problem(client.delete(f"/users/{user['id']}"), 502)  # S3 refuses

            assert client.get(f"/users/{user['id']}").json() == user
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


def victim_row_is_locked(db_engine: Any, user_id: str) -> bool:
    """Whether a transaction holds the user's row (FOR UPDATE NOWAIT fails at once if so)."""
    from sqlalchemy.exc import DBAPIError

    try:
        with db_engine.begin() as connection:
            connection.execute(
                text("SELECT 1 FROM users WHERE id = :id FOR UPDATE NOWAIT"), {"id": user_id}
            )
    except DBAPIError:
        return True
    return False


def test_sign_ups_go_through_while_a_delete_waits_for_a_hanging_s3(
    admin: dict[str, Any], silent_server: int, db_engine: Any
) -> None:
    deletes: list[int] = []
    signed_up_during_delete = 0
    with settings_env(
        S3_ENDPOINT_URL=f"http://127.0.0.1:{silent_server}",
        S3_READ_TIMEOUT="1",
        S3_MAX_ATTEMPTS="1",
        DB_POOL_SIZE="3",
    ):
        app = create_app()
        admins = TestClient(app, headers=admin["headers"], raise_server_exceptions=False)
        newcomers = TestClient(app, raise_server_exceptions=False)
        for number in range(20):
            victim = admins.post("/users", json={"email": f"victim-{number}@example.com"}).json()
            deleting = threading.Thread(
                target=lambda user_id=victim["id"]: deletes.append(
                    admins.delete(f"/users/{user_id}").status_code
                )
            )
            deleting.start()
            while deleting.is_alive() and not victim_row_is_locked(db_engine, victim["id"]):
                time.sleep(0.01)
            headers = bearer(f"newcomer-{number}", f"newcomer-{number}@example.com")

            signed_up = newcomers.post("/users/me", headers=headers)

            # Still held: the sign-up (same user_type) did not wait for the delete to end.
            signed_up_during_delete += victim_row_is_locked(db_engine, victim["id"])
            deleting.join(timeout=30)
            assert signed_up.status_code == 201, signed_up.text

    assert signed_up_during_delete == 20
    assert deletes == [502] * 20
    with db_engine.connect() as connection:
        victims = connection.scalar(text("SELECT count(*) FROM users WHERE email LIKE 'victim-%'"))
    assert victims == 20  # every failed delete kept its user

"""Idempotency keys: a retried POST gets the first answer, and does nothing again."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app.crud.idempotency import PURGE_BATCH, lock_id
from tests.conftest import ADMIN_SUBJECT, bearer, insert_user
from tests.routers.test_users import assert_problem, count_users

REPLAYED = "Idempotent-Replayed"


@pytest.fixture(autouse=True)
def no_keys_left(db_engine: Engine) -> Iterator[None]:
    yield
    with db_engine.begin() as connection:
        connection.execute(text("TRUNCATE idempotency_keys"))


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def stored_keys(db_engine: Engine) -> int:
    with db_engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM idempotency_keys")) or 0)


def test_a_retried_create_replays_the_first_answer_and_creates_once(
    client: TestClient,
) -> None:
    headers = key()
    body = {"email": "once@example.com", "full_name": "Once"}

    first = client.post("/users", json=body, headers=headers)
    second = client.post("/users", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert REPLAYED not in first.headers
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["ETag"] == first.headers["ETag"]
    assert count_users(client) == 2  # the admin and one new user


def test_the_same_body_in_other_words_is_the_same_request(client: TestClient) -> None:
    headers = key()
    client.post("/users", json={"email": "Same@Example.com "}, headers=headers)

    again = client.post(
        "/users", json={"user_type": "customer", "email": "same@example.com"}, headers=headers
    )

    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"


def test_a_quoted_key_is_the_same_key(client: TestClient) -> None:
    client.post("/users", json={"email": "q@example.com"}, headers={"Idempotency-Key": "k-1"})

    again = client.post(
        "/users", json={"email": "q@example.com"}, headers={"Idempotency-Key": '"k-1"'}
    )

    assert again.headers[REPLAYED] == "true"


def test_the_same_key_with_another_body_is_422_and_changes_nothing(client: TestClient) -> None:
    headers = key()
    client.post("/users", json={"email": "first@example.com"}, headers=headers)

    body = assert_problem(
        client.post("/users", json={"email": "second@example.com"}, headers=headers), 422
    )

    assert "different request" in body["detail"]
    assert client.get("/users", params={"email": "second@example.com"}).json()["total"] == 0


def test_the_same_key_on_another_operation_is_422(client: TestClient, make_user: Any) -> None:
    user = make_user()
    headers = key()
    client.post("/users", json={"email": "k@example.com"}, headers=headers)

    response = client.post(
        f"/users/{user['id']}/avatar", json={"content_type": "image/png"}, headers=headers
    )

    assert_problem(response, 422)


def test_keys_are_scoped_per_caller(client: TestClient, db_engine: Engine) -> None:
    insert_user(db_engine, email="second@example.com", user_type="admin", subject="second")
    headers = key()
    client.post("/users", json={"email": "mine@example.com"}, headers=headers)

    theirs = client.post(
        "/users", json={"email": "theirs@example.com"}, headers={**headers, **bearer("second")}
    )

    assert theirs.status_code == 201
    assert REPLAYED not in theirs.headers
    assert stored_keys(db_engine) == 2


def test_a_key_in_flight_is_409_at_once_and_changes_nothing(
    client: TestClient, db_engine: Engine
) -> None:
    headers = key()
    with db_engine.begin() as other_request:
        # Another request with the key holds its transaction lock.
        lock = lock_id(ADMIN_SUBJECT, headers["Idempotency-Key"])
        other_request.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock})

        response = client.post("/users", json={"email": "busy@example.com"}, headers=headers)

    assert_problem(response, 409)
    assert response.headers["Retry-After"] == "1"
    assert client.get("/users", params={"email": "busy@example.com"}).json()["total"] == 0
    again = client.post("/users", json={"email": "busy@example.com"}, headers=headers)
    assert again.status_code == 201
    assert REPLAYED not in again.headers


def test_a_failed_attempt_saves_nothing_and_its_retry_runs_again(
    client: TestClient, make_user: Any, db_engine: Engine
) -> None:
    taken = make_user(email="taken@example.com")
    headers = key()
    assert_problem(client.post("/users", json={"email": "taken@example.com"}, headers=headers), 409)
    client.delete(f"/users/{taken['id']}")

    retry = client.post("/users", json={"email": "taken@example.com"}, headers=headers)

    assert retry.status_code == 201
    assert REPLAYED not in retry.headers
    assert stored_keys(db_engine) == 1


def test_an_expired_key_is_forgotten(client: TestClient, db_engine: Engine) -> None:
    headers = key()
    client.post("/users", json={"email": "old@example.com"}, headers=headers)
    with db_engine.begin() as connection:
        connection.execute(
            text("UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 second'")
        )

    response = client.post("/users", json={"email": "new@example.com"}, headers=headers)

    assert response.status_code == 201
    assert REPLAYED not in response.headers
    assert stored_keys(db_engine) == 1


def test_a_keyed_request_purges_a_bounded_batch_of_expired_keys(
    client: TestClient, db_engine: Engine
) -> None:
    with db_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO idempotency_keys "
                "(subject, idempotency_key, fingerprint, status_code, headers, created_at) "
                "SELECT 'gone', n::text, '', 201, '{}', now() - interval '2 days' "
                "FROM generate_series(1, :n) AS n"
            ),
            {"n": PURGE_BATCH + 5},
        )
        connection.execute(
            text(
                "INSERT INTO idempotency_keys "
                "(subject, idempotency_key, fingerprint, status_code, headers) "
                "VALUES ('live', 'x', '', 201, '{}')"
            )
        )

    client.post("/users", json={"email": "purger@example.com"}, headers=key())

    with db_engine.connect() as connection:
        left = dict(
            connection.execute(
                text("SELECT subject, count(*) FROM idempotency_keys GROUP BY subject")
            ).all()
        )
    assert left == {"gone": 5, "live": 1, ADMIN_SUBJECT: 1}


@pytest.mark.parametrize(
    "value",
    ["", "x" * 256, "tab\there", "caf\u00e9", '""'],
    ids=["empty", "256", "tab", "non-ascii", "quoted-empty"],
)
def test_an_invalid_key_is_400_and_changes_nothing(
    client: TestClient, db_engine: Engine, value: str
) -> None:
    response = client.post(
        "/users",
        json={"email": "bad-key@example.com"},
        headers={"Idempotency-Key": value.encode("latin-1")},
    )

    assert_problem(response, 400)
    assert count_users(client) == 1
    assert stored_keys(db_engine) == 0


def test_a_key_of_255_printable_characters_is_taken(client: TestClient) -> None:
    value = "".join(chr(0x20 + n % 95) for n in range(255))

    response = client.post(
        "/users", json={"email": "long@example.com"}, headers={"Idempotency-Key": value}
    )

    assert response.status_code == 201


@contextmanager
def before_insert_trigger(db_engine: Engine, table: str, name: str, body: str) -> Iterator[None]:
    """Run the PL/pgSQL `body` before every INSERT into `table` while inside."""
    with db_engine.begin() as connection:
        connection.execute(
            text(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {body} END $$"
            )
        )
        connection.execute(
            text(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        )
    try:
        yield
    finally:
        with db_engine.begin() as connection:
            connection.execute(text(f"DROP TRIGGER {name} ON {table}"))
            connection.execute(text(f"DROP FUNCTION {name}()"))


@pytest.fixture
def key_writes_fail(db_engine: Engine) -> Iterator[None]:
    """Make every write of an idempotency key fail, as a crash right before it would."""
    failure = "RAISE EXCEPTION 'injected failure';"
    with before_insert_trigger(db_engine, "idempotency_keys", "fail_key_write", failure):
        yield


def test_a_failure_between_the_change_and_the_key_leaves_neither(
    client: TestClient, db_engine: Engine, key_writes_fail: None
) -> None:
    response = client.post("/users", json={"email": "crash@example.com"}, headers=key())

    assert response.status_code == 500
    assert count_users(client) == 1
    assert stored_keys(db_engine) == 0


def test_a_retried_registration_replays_instead_of_409(client: TestClient) -> None:
    newcomer = {**bearer("newcomer", "newcomer@example.com"), **key()}

    first = client.post("/users/me", headers=newcomer)
    second = client.post("/users/me", headers=newcomer)
    unkeyed = client.post("/users/me", headers=bearer("newcomer", "newcomer@example.com"))

    assert first.status_code == second.status_code == 201
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    assert second.headers["Location"] == first.headers["Location"]
    assert_problem(unkeyed, 409)


def test_a_retried_avatar_upload_gets_the_same_form(client: TestClient, make_user: Any) -> None:
    user = make_user()
    headers = key()
    url = f"/users/{user['id']}/avatar"

    first = client.post(url, json={"content_type": "image/png"}, headers=headers)
    second = client.post(url, json={"content_type": "image/png"}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()


@pytest.fixture
def slow_user_inserts(db_engine: Engine) -> Iterator[None]:
    """Hold every INSERT into users for a moment, as a slow change inside a keyed request."""
    pause = "PERFORM pg_sleep(0.3); RETURN NEW;"
    with before_insert_trigger(db_engine, "users", "slow_user_insert", pause):
        yield


def sleeping_sessions(db_engine: Engine) -> int:
    # A transaction of its own each time: within one, PostgreSQL repeats its first reading.
    with db_engine.connect() as connection:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event = 'PgSleep' AND datname = current_database()"
        )
        return int(connection.scalar(text(query)) or 0)


def test_a_twin_answered_while_the_change_ran_makes_it_409_and_roll_back(
    client: TestClient, db_engine: Engine, slow_user_inserts: None
) -> None:
    headers = key()
    twin_saved = threading.Event()

    def save_a_twin_answer() -> None:
        # Once the request is inside its INSERT (past its claim of the key), a twin that
        # had read the key before it commits its own answer.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not sleeping_sessions(db_engine):
            time.sleep(0.01)
        with db_engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO idempotency_keys (subject, idempotency_key, fingerprint, "
                    "status_code, body, headers) VALUES (:subject, :key, 'twin', 201, "
                    "'{\"twin\": true}', '{}')"
                ),
                {"subject": ADMIN_SUBJECT, "key": headers["Idempotency-Key"]},
            )
        twin_saved.set()

    twin = threading.Thread(target=save_a_twin_answer)
    twin.start()
    response = client.post("/users", json={"email": "raced@example.com"}, headers=headers)
    twin.join(timeout=15)

    assert twin_saved.is_set()
    problem = assert_problem(response, 409)
    assert "answered meanwhile" in problem["detail"]
    assert client.get("/users", params={"email": "raced@example.com"}).json()["total"] == 0
    with db_engine.connect() as connection:
        saved = connection.execute(text("SELECT fingerprint, body FROM idempotency_keys")).all()
    assert [tuple(row) for row in saved] == [("twin", {"twin": True})]

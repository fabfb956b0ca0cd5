"""Signing in, linking and self-service: who may become or change which account."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from tests.conftest import bearer, insert_user
from tests.routers.test_users import assert_problem


def users_table(db_engine: Engine) -> list[tuple[Any, ...]]:
    with db_engine.connect() as connection:
        rows = connection.execute(
            text("SELECT email, full_name, user_type::text, subject FROM users ORDER BY email")
        )
        return [tuple(row) for row in rows]


def test_a_user_an_admin_created_signs_in_and_gets_that_account(
    client: TestClient, make_user: Any
) -> None:
    made = make_user("ada@example.com", user_type="staff")

    linked = client.post("/users/me", headers=bearer("ada-sub", "ada@example.com"))
    me = client.get("/users/me", headers=bearer("ada-sub"))

    assert linked.status_code == 200
    assert linked.json()["id"] == made["id"]
    assert linked.json()["user_type"] == "staff"
    assert "location" not in linked.headers
    assert me.json()["id"] == made["id"]


def test_the_token_email_is_normalised_like_a_body_email_before_linking(
    client: TestClient, make_user: Any
) -> None:
    made = make_user("grace@example.com")

    linked = client.post("/users/me", headers=bearer("grace-sub", "  Grace@EXAMPLE.com "))

    assert linked.status_code == 200
    assert linked.json()["id"] == made["id"]


def test_an_account_linked_to_another_sign_in_is_never_relinked(
    client: TestClient, db_engine: Engine
) -> None:
    insert_user(db_engine, email="taken@example.com", user_type="customer", subject="first-sub")
    before = users_table(db_engine)

    response = client.post("/users/me", headers=bearer("second-sub", "taken@example.com"))

    body = assert_problem(response, 409)
    assert "taken@example.com" not in response.text
    assert "first-sub" not in response.text
    assert "linked to another sign-in" in body["detail"]
    assert users_table(db_engine) == before


def test_a_new_person_still_registers_as_a_customer(client: TestClient) -> None:
    response = client.post("/users/me", headers=bearer("new-sub", "new@example.com"))

    assert response.status_code == 201
    assert response.json()["user_type"] == "customer"
    assert response.headers["location"] == f"/users/{response.json()['id']}"


@pytest.mark.parametrize(
    ("claims", "problem"),
    [
        ({"email": "who@example.com", "email_verified": None}, "no verified email"),
        ({"email": "who@example.com", "email_verified": False}, "no verified email"),
        ({"email": "not-an-email"}, "not valid"),
        ({"email": "x" * 310 + "@example.com"}, "not valid"),
    ],
    ids=["no email_verified claim", "unverified", "invalid", "overlong"],
)
def test_a_token_without_a_usable_email_cannot_register(
    client: TestClient, db_engine: Engine, claims: dict[str, Any], problem: str
) -> None:
    before = users_table(db_engine)
    headers = bearer("who-sub", claims.pop("email"), **claims)

    response = client.post("/users/me", headers=headers)

    assert problem in assert_problem(response, 422)["detail"]
    assert users_table(db_engine) == before


@pytest.mark.parametrize("user_type", ["customer", "staff"])
@pytest.mark.parametrize(
    "change",
    [
        {"email": "elsewhere@example.com"},
        {"user_type": "admin"},
        {"full_name": "Me", "email": "x@example.com"},
    ],
    ids=["email", "user_type", "name and email"],
)
def test_others_than_admins_may_change_only_their_own_full_name(
    client: TestClient, db_engine: Engine, user_type: str, change: dict[str, Any]
) -> None:
    own_id = insert_user(db_engine, email="self@example.com", user_type=user_type, subject="self")
    before = users_table(db_engine)

    refused = client.patch(f"/users/{own_id}", json=change, headers=bearer("self"))
    allowed = client.patch(f"/users/{own_id}", json={"full_name": "Self"}, headers=bearer("self"))

    assert_problem(refused, 403)
    assert allowed.status_code == 200
    assert [row for row in users_table(db_engine) if row[0] == "self@example.com"] == [
        ("self@example.com", "Self", user_type, "self")
    ]
    assert len(users_table(db_engine)) == len(before)


def test_an_admin_may_change_anyones_email_but_not_to_a_taken_one(
    client: TestClient, make_user: Any
) -> None:
    first = make_user("first@example.com")
    make_user("second@example.com")

    moved = client.patch(f"/users/{first['id']}", json={"email": "third@example.com"})
    clash = client.patch(f"/users/{first['id']}", json={"email": "second@example.com"})

    assert moved.json()["email"] == "third@example.com"
    assert "second@example.com" not in assert_problem(clash, 409)["detail"]


# --- one identity signing up twice at once

# What a twin request with the same token writes: the link of the admin-made account, or the
# new customer. Bound as the twin would: its subject and email.
TWIN_LINKS = "UPDATE users SET subject = :subject WHERE email = :email AND subject IS NULL"
TWIN_INSERTS = "INSERT INTO users (email, user_type, subject) VALUES (:email, 'customer', :subject)"
WAITING_FOR_A_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


@contextmanager
def twin_writes_before_registration(
    db_engine: Engine, twin_sql: str, subject: str, email: str, *, commit_while_waiting: bool
) -> Iterator[None]:
    """Right before the registration statement is sent, the twin writes on its own connection.

    Committed at once: the caller was looked up before, the registration's snapshot sees the
    twin. Or committed only once the registration waits for the twin's row or key lock: the
    snapshot does not see it, the write collides with it.
    """
    twins: list[threading.Thread | None] = []  # the committer thread, if it has one

    def twin(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "WITH linked AS" not in statement or twins:
            return
        connection = db_engine.connect()
        connection.execute(text(twin_sql), {"subject": subject, "email": email})
        if not commit_while_waiting:
            connection.commit()
            connection.close()
            twins.append(None)
            return

        def commit_once_waited_for() -> None:
            with db_engine.connect() as watcher:
                while not watcher.scalar(WAITING_FOR_A_LOCK):
                    watcher.rollback()
                    time.sleep(0.01)
            connection.commit()
            connection.close()

        committer = threading.Thread(target=commit_once_waited_for)
        twins.append(committer)
        committer.start()

    event.listen(Engine, "before_cursor_execute", twin)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", twin)
        for committer in twins:
            if committer is not None:
                committer.join(timeout=30)
    assert twins, "the registration statement never ran"


@pytest.mark.parametrize("keyed", [False, True], ids=["", "keyed"])
@pytest.mark.parametrize("commit_while_waiting", [False, True], ids=["before", "while waiting"])
@pytest.mark.parametrize("admin_made", [True, False], ids=["link", "new customer"])
def test_the_twin_of_a_sign_up_is_told_already_registered(
    client: TestClient,
    make_user: Any,
    db_engine: Engine,
    admin_made: bool,
    commit_while_waiting: bool,
    keyed: bool,
) -> None:
    if admin_made:
        made = make_user("twin@example.com", user_type="staff")
    twin_sql = TWIN_LINKS if admin_made else TWIN_INSERTS

    with twin_writes_before_registration(
        db_engine,
        twin_sql,
        "twin-sub",
        "twin@example.com",
        commit_while_waiting=commit_while_waiting,
    ):
        headers = bearer("twin-sub", "twin@example.com")
        if keyed:  # the registration runs in the transaction that saves the key's answer
            headers["Idempotency-Key"] = "twin-key"
        response = client.post("/users/me", headers=headers)

    body = assert_problem(response, 409)
    assert body["title"] == "Already registered"
    me = client.get("/users/me", headers=bearer("twin-sub"))
    assert me.status_code == 200
    if admin_made:
        assert me.json()["id"] == made["id"]
    assert [row[0] for row in users_table(db_engine)].count("twin@example.com") == 1

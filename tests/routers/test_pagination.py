"""Paging the users list with cursors: every user once, in order, whatever changes meanwhile."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app.utils.cursors import MAX_OFFSET
from tests.conftest import insert_user
from tests.routers.test_users import assert_problem


def seed(db_engine: Engine, count: int) -> None:
    with db_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, created_at, updated_at) "
                "SELECT 'user-' || g || '@example.com', "
                "'2026-01-01'::timestamptz + g * interval '1 second', now() "
                "FROM generate_series(1, :count) AS g"
            ),
            {"count": count},
        )


def walk(client: TestClient, **params: Any) -> list[str]:
    emails: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        page = client.get("/users", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        emails += [user["email"] for user in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return emails
    raise AssertionError("the cursor never ended")


def test_cursors_walk_every_user_once_in_creation_order(
    client: TestClient, db_engine: Engine
) -> None:
    seed(db_engine, 45)

    emails = walk(client, limit=10, user_type="customer")

    assert emails == [f"user-{n}@example.com" for n in range(1, 46)]


def test_the_last_page_has_no_next_cursor_even_when_it_is_full(
    client: TestClient, db_engine: Engine
) -> None:
    seed(db_engine, 10)

    page = client.get("/users", params={"limit": 10, "user_type": "customer"}).json()

    assert len(page["items"]) == 10
    assert page["next_cursor"] is None


def test_pages_do_not_shift_when_users_come_and_go_between_requests(
    client: TestClient, db_engine: Engine
) -> None:
    seed(db_engine, 30)
    first = client.get("/users", params={"limit": 10, "user_type": "customer"}).json()
    with db_engine.begin() as connection:
        # Users already seen leave, and new ones sign up.
        connection.execute(
            text("DELETE FROM users WHERE email IN ('user-1@example.com', 'user-5@example.com')")
        )
    for number in range(1, 4):
        insert_user(
            db_engine, email=f"late-{number}@example.com", user_type="customer", subject=None
        )

    rest = walk(client, limit=10, user_type="customer", cursor=first["next_cursor"])

    seen = [user["email"] for user in first["items"]] + rest
    expected = [f"user-{n}@example.com" for n in range(1, 31)]
    assert seen[:30] == expected
    assert sorted(seen[30:]) == [f"late-{n}@example.com" for n in range(1, 4)]


def test_an_offset_beyond_the_cap_is_422_naming_cursor(client: TestClient) -> None:
    body = assert_problem(client.get("/users", params={"offset": MAX_OFFSET + 1}), 422)

    assert "cursor" in body["detail"]
    assert client.get("/users", params={"offset": MAX_OFFSET}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # valid base64 of "[]"
        {"cursor": "WyJ5ZXN0ZXJkYXkiLCAibm8iXQ"},  # ["yesterday", "no"]
        {"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgIjEyMyJd"},  # naive time, bad id
    ],
)
def test_a_cursor_the_api_did_not_give_out_is_422(
    client: TestClient, params: dict[str, str]
) -> None:
    assert "cursor" in assert_problem(client.get("/users", params=params), 422)["detail"]


def test_cursor_and_offset_together_are_422(client: TestClient, db_engine: Engine) -> None:
    seed(db_engine, 3)
    cursor = client.get("/users", params={"limit": 1}).json()["next_cursor"]

    response = client.get("/users", params={"cursor": cursor, "offset": 1})

    assert "not both" in assert_problem(response, 422)["detail"]


def test_a_statement_timeout_is_its_own_503_not_database_unavailable(
    client: TestClient, db_engine: Engine
) -> None:
    with db_engine.connect() as locker:
        # A migration holding the table: the app's statement runs into its role's timeout.
        locker.execute(text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE"))
        response = client.get(f"/users/{uuid.uuid4()}")
        locker.rollback()

    body = assert_problem(response, 503)
    assert body["title"] == "Database timeout"
    assert response.headers["retry-after"] == "1"

"""The per-type user counts under concurrency: no deadlock, no long lock, exact totals."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import insert_user

ROUNDS = 20


@pytest.fixture
def counts_engine(app_env: dict[str, str], db_engine: Engine) -> Engine:
    """The tests' engine on an empty users table (emptied again by app_env afterwards)."""
    with db_engine.begin() as connection:
        connection.execute(text("TRUNCATE users"))
    return db_engine


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT user_type::text, total FROM user_counts"))
        return {row[0]: int(row[1]) for row in rows}


def actual(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT user_type::text, count(*) FROM users GROUP BY 1"))
        return {row[0]: int(row[1]) for row in rows}


def set_type(connection: Connection, user_id: str, user_type: str) -> None:
    connection.execute(
        text("UPDATE users SET user_type = :type WHERE id = :id"),
        {"type": user_type, "id": user_id},
    )


def test_opposite_type_swaps_at_the_same_time_never_deadlock(counts_engine: Engine) -> None:
    errors: list[BaseException] = []
    for round_number in range(ROUNDS):
        customer = insert_user(
            counts_engine, email=f"c{round_number}@example.com", user_type="customer", subject=None
        )
        staff = insert_user(
            counts_engine, email=f"s{round_number}@example.com", user_type="staff", subject=None
        )
        both_updated = threading.Barrier(2, timeout=10)

        def swap(user_id: str, new_type: str, barrier: threading.Barrier = both_updated) -> None:
            try:
                with counts_engine.begin() as connection:
                    connection.execute(text("SET LOCAL lock_timeout = '5s'"))
                    set_type(connection, user_id, new_type)
                    barrier.wait()  # both rows changed, neither transaction committed yet
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=swap, args=(customer, "staff")),
            threading.Thread(target=swap, args=(staff, "customer")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    assert counts(counts_engine) == {"admin": 0, **actual(counts_engine)}
    assert counts(counts_engine)["staff"] == counts(counts_engine)["customer"] == ROUNDS


def test_an_open_delete_does_not_hold_up_sign_ups_of_the_same_type(counts_engine: Engine) -> None:
    victims = [
        insert_user(counts_engine, email=f"v{n}@example.com", user_type="customer", subject=None)
        for n in range(ROUNDS)
    ]
    for number, victim in enumerate(victims):
        # The delete route's transaction while it waits for S3: the row deleted, not committed.
        with counts_engine.connect() as deleting:
            deleting.execute(text("DELETE FROM users WHERE id = :id"), {"id": victim})
            with counts_engine.connect() as signing_up:
                # Local to the transaction: a pooled connection keeps no session setting.
                signing_up.execute(text("SET LOCAL lock_timeout = '1s'"))
                signing_up.execute(
                    text("INSERT INTO users (email, user_type) VALUES (:email, 'customer')"),
                    {"email": f"new{number}@example.com"},
                )
                signing_up.commit()
            deleting.commit()

    assert counts(counts_engine)["customer"] == ROUNDS == actual(counts_engine)["customer"]


def test_setting_the_same_type_again_touches_no_counter(counts_engine: Engine) -> None:
    user_id = insert_user(counts_engine, email="same@example.com", user_type="staff", subject=None)
    versions = text("SELECT user_type::text, xmin::text FROM user_counts")
    with counts_engine.connect() as connection:
        before = {row[0]: row[1] for row in connection.execute(versions)}
        connection.commit()

    with counts_engine.begin() as connection:
        set_type(connection, user_id, "staff")

    with counts_engine.connect() as connection:
        after = {row[0]: row[1] for row in connection.execute(versions)}
    assert after == before  # no counter row was rewritten
    assert counts(counts_engine)["staff"] == 1


def test_a_missing_counter_row_is_created_by_the_next_change(counts_engine: Engine) -> None:
    with counts_engine.begin() as connection:
        connection.execute(text("DELETE FROM user_counts WHERE user_type = 'staff'"))

    insert_user(counts_engine, email="first-staff@example.com", user_type="staff", subject=None)

    assert counts(counts_engine)["staff"] == 1


def test_a_failed_counter_update_fails_the_commit_and_keeps_the_row(counts_engine: Engine) -> None:
    user_id = insert_user(
        counts_engine, email="kept@example.com", user_type="customer", subject=None
    )
    with counts_engine.begin() as connection:
        connection.execute(text("UPDATE user_counts SET total = 0 WHERE user_type = 'customer'"))

    with pytest.raises(DBAPIError), counts_engine.begin() as connection:
        connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})

    assert actual(counts_engine) == {"customer": 1}

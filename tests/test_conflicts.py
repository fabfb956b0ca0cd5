"""Transactions that lose to concurrent ones: retried a bounded number of times, then 503."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from lambda_app.db import retrying_conflicts, server_error_field
from lambda_app.main import create_app
from tests.conftest import insert_user
from tests.routers.test_users import assert_problem


def a_real_deadlock(db_engine: Engine) -> DBAPIError:
    """Two transactions locking two rows in opposite order; return the loser's error."""
    first = insert_user(db_engine, email="one@example.com", user_type="customer", subject=None)
    second = insert_user(db_engine, email="two@example.com", user_type="customer", subject=None)
    both_locked_one = threading.Barrier(2, timeout=10)
    errors: list[DBAPIError] = []

    def lock(mine: str, theirs: str) -> None:
        try:
            with db_engine.begin() as connection:
                touch = text("UPDATE users SET full_name = 'x' WHERE id = :id")
                connection.execute(touch, {"id": mine})
                both_locked_one.wait()
                connection.execute(touch, {"id": theirs})
        except DBAPIError as error:
            errors.append(error)

    threads = [
        threading.Thread(target=lock, args=(first, second)),
        threading.Thread(target=lock, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    deadlocks = [error for error in errors if server_error_field(error, "C") == "40P01"]
    assert len(deadlocks) == 1, errors
    return deadlocks[0]


def test_a_deadlock_that_persists_is_503_not_500(
    app_env: dict[str, str], db_engine: Engine
) -> None:
    deadlock = a_real_deadlock(db_engine)
    app = create_app()

    @app.get("/conflict")
    def conflict() -> None:
        raise deadlock

    response = TestClient(app, raise_server_exceptions=False).get("/conflict")

    body = assert_problem(response, 503)
    assert body["title"] == "Concurrent changes"
    assert response.headers["retry-after"] == "1"


def test_a_lost_transaction_is_run_again_and_then_given_up(
    app_env: dict[str, str], db_engine: Engine
) -> None:
    deadlock = a_real_deadlock(db_engine)
    attempts: list[int] = []

    def loses_once() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise deadlock
        return "done"

    def always_loses() -> Any:
        attempts.append(1)
        raise deadlock

    assert retrying_conflicts(loses_once) == "done"
    assert len(attempts) == 2
    attempts.clear()
    with pytest.raises(DBAPIError):
        retrying_conflicts(always_loses, attempts=3)
    assert len(attempts) == 3

"""SnapStart hooks: nothing from the snapshot that must be unique survives a restore."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app import snapstart

# These tests watch the app's own server processes, which a pooler hides by design.
pytestmark = pytest.mark.direct_database

APP_CONNECTIONS = text(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'users-service' "
    "AND datname = current_database()"
)


def app_connection_pids(engine: Engine, *, settle_seconds: float = 5.0) -> set[int]:
    """The app's server processes, once closed connections have had time to end theirs."""
    deadline = time.monotonic() + settle_seconds
    while True:
        with engine.connect() as connection:
            pids = set(connection.scalars(APP_CONNECTIONS))
        # A closed connection's server process exits a moment after the client hangs up.
        if len(pids) <= 1 or time.monotonic() > deadline:
            return pids
        time.sleep(0.05)


def wait_until_gone(engine: Engine, pids: set[int]) -> None:
    deadline = time.monotonic() + 5.0
    while app_connection_pids(engine) & pids and time.monotonic() < deadline:
        time.sleep(0.05)


def test_warm_up_builds_the_engine_without_connecting(app_env: Any, db_engine: Engine) -> None:
    snapstart.warm_up()

    assert app_connection_pids(db_engine) == set()


def test_warm_up_without_a_database_setting_does_not_fail(app_env: Any) -> None:
    from tests.conftest import settings_env

    with settings_env(DATABASE_URL=None):
        snapstart.warm_up()


def test_after_a_restore_requests_use_a_new_connection(
    client: TestClient, db_engine: Engine
) -> None:
    client.get("/users")
    before = app_connection_pids(db_engine)

    snapstart.before_snapshot()
    snapstart.after_restore()
    wait_until_gone(db_engine, before)
    client.get("/users")
    after = app_connection_pids(db_engine)

    assert len(before) == 1
    assert len(after) == 1
    assert before.isdisjoint(after)


def test_before_snapshot_leaves_no_connection_open(client: TestClient, db_engine: Engine) -> None:
    client.get("/users")

    pids = app_connection_pids(db_engine)

    snapstart.before_snapshot()
    wait_until_gone(db_engine, pids)

    assert pids
    assert app_connection_pids(db_engine) == set()


def test_after_restore_reseeds_random() -> None:
    random.seed(42)
    from_snapshot = [random.random() for _ in range(3)]
    random.seed(42)  # the state every restored environment would share

    snapstart.after_restore()

    assert [random.random() for _ in range(3)] != from_snapshot


def test_hooks_are_registered_with_the_runtime_library() -> None:
    from snapshot_restore_py import get_after_restore, get_before_snapshot

    snapstart.register_hooks()

    assert snapstart.before_snapshot in [entry[0] for entry in get_before_snapshot()]
    assert snapstart.after_restore in [entry[0] for entry in get_after_restore()]

"""CloudFormation's rollback, replayed: the previous release's trigger runs on a newer schema.

When a deploy fails after its migration committed, the rollback sends the trigger an Update
with the old properties, so the previous version of the migration function runs `upgrade
head` (an event with no payload) against a database it does not know. The previous release
is this code less its newest migration, run in a process of its own.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from lambda_app.migrate import handler
from tests.conftest import APP_DB_ROLE
from tests.lifecycle.database_state import database_state
from tests.lifecycle.releases import copy_without_newest_revision, run_migration

# What the CDK trigger sends: it invokes the function with no payload, and Lambda passes {}.
TRIGGER_EVENT: dict[str, Any] = {}


@pytest.fixture
def previous_release(tmp_path: Path) -> tuple[Path, str, str]:
    """(root, newest revision it lacks, its own newest revision)."""
    root = tmp_path / "previous"
    return root, *copy_without_newest_revision(root)


@pytest.fixture
def migrated_by_this_release(empty_database: str) -> str:
    """The database after this release's deploy: at head, with a user in it."""
    handler(TRIGGER_EVENT)
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO users (email, user_type) VALUES ('kept@example.com', 'staff')")
        )
    engine.dispose()
    return empty_database


def _answer(outcome: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """What the migration function answered, from the last line its process printed."""
    answer: dict[str, Any] = json.loads(outcome.stdout.strip().splitlines()[-1])
    return answer


def test_the_previous_release_trigger_is_a_logged_no_op_on_a_newer_schema(
    migrated_by_this_release: str, previous_release: tuple[Path, str, str], tmp_path: Path
) -> None:
    root, newest, previous_head = previous_release
    before = database_state(migrated_by_this_release, APP_DB_ROLE)

    outcome = run_migration(root, TRIGGER_EVENT, migrated_by_this_release, tmp_path)

    assert outcome.returncode == 0, outcome.stderr[-3000:]
    answer = _answer(outcome)
    assert answer["module"].startswith(str(root))  # the previous release ran, not this one
    assert answer["result"]["before"] == answer["result"]["after"] == newest
    assert answer["result"]["skipped"] == "database ahead"
    assert f"at revision {newest}, which this release does not know" in outcome.stderr
    assert f"(its newest is {previous_head})" in outcome.stderr
    assert database_state(migrated_by_this_release, APP_DB_ROLE) == before


def test_an_operator_upgrade_with_the_previous_release_fails_loudly_and_changes_nothing(
    migrated_by_this_release: str, previous_release: tuple[Path, str, str], tmp_path: Path
) -> None:
    root, newest, _ = previous_release
    before = database_state(migrated_by_this_release, APP_DB_ROLE)

    outcome = run_migration(
        root, {"action": "upgrade", "revision": "head"}, migrated_by_this_release, tmp_path
    )

    assert outcome.returncode == 1
    assert "MigrationRequestError" in outcome.stderr
    assert f"at revision {newest}, which this release does not know" in outcome.stderr
    assert database_state(migrated_by_this_release, APP_DB_ROLE) == before


def test_after_the_rollback_this_release_deploys_again_without_change(
    migrated_by_this_release: str, previous_release: tuple[Path, str, str], tmp_path: Path
) -> None:
    root, newest, _ = previous_release
    run_migration(root, TRIGGER_EVENT, migrated_by_this_release, tmp_path)
    after_rollback = database_state(migrated_by_this_release, APP_DB_ROLE)

    redeployed = handler(TRIGGER_EVENT)

    assert redeployed == {"action": "upgrade", "before": newest, "after": newest}
    state = database_state(migrated_by_this_release, APP_DB_ROLE)
    # The role's password is set again from its secret (a new SCRAM salt); nothing else moves.
    assert {**state, "app_role": None} == {**after_rollback, "app_role": None}

"""The sweeper's reconcile-identities action: drift between the pool and the table, repaired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app.crud.identities import UserIdentity
from lambda_app.external_services.cognito import Identity
from lambda_app.reconcile import find_drift
from lambda_app.sweep import handler as sweeper
from tests.conftest import insert_user
from tests.test_user_deletion import drain, tasks
from tests.user_pool import UserPool


def reconcile(*, repair: bool) -> dict[str, Any]:
    return sweeper({"action": "reconcile-identities", "repair": repair})


def counts(result: dict[str, Any]) -> dict[str, int]:
    return {kind: found["count"] for kind, found in result["drift"].items()}


def linked_subject(db_engine: Engine, user_id: str) -> str | None:
    with db_engine.connect() as connection:
        return connection.scalar(text("SELECT subject FROM users WHERE id = :id"), {"id": user_id})


def age_identities(pool: UserPool) -> None:
    """Make every identity older than the outbox's lease, as a settled one is."""
    from moto.cognitoidp.models import cognitoidp_backends

    backend = cognitoidp_backends["123456789012"]["us-east-1"]
    for user in backend.user_pools[pool.id].users.values():
        user.create_date -= timedelta(hours=1)


@pytest.fixture
def drifted(client: TestClient, pool: UserPool, db_engine: Engine) -> dict[str, str]:
    """Each kind of drift, next to a user in step (the admin's subject is no pool's)."""
    in_step = client.post("/users", json={"email": "fine@example.com"}).json()["id"]
    mismatched = client.post("/users", json={"email": "kept@example.com"}).json()["id"]
    pool.idp.admin_update_user_attributes(
        UserPoolId=pool.id,
        Username=linked_subject(db_engine, mismatched),
        UserAttributes=[{"Name": "email", "Value": "console-edit@example.com"}],
    )
    nowhere = insert_user(db_engine, email="gone@example.com", user_type="staff", subject="no-such")
    unlinked = insert_user(
        db_engine, email="legacy@example.com", user_type="customer", subject=None
    )
    orphan = pool.add_identity("stray@example.com")
    age_identities(pool)
    return {
        "in_step": in_step,
        "mismatched": mismatched,
        "nowhere": nowhere,
        "unlinked": unlinked,
        "orphan": orphan,
    }


def test_reconcile_reports_each_kind_of_drift_and_changes_nothing(
    drifted: dict[str, str], admin: dict[str, Any], pool: UserPool, db_engine: Engine
) -> None:
    result = reconcile(repair=False)

    assert result["complete"] is True
    assert counts(result) == {
        "users_without_identity": 1,
        "subjects_pointing_nowhere": 2,
        "email_mismatches": 1,
        "identities_without_user": 1,
    }
    drift = result["drift"]
    assert drift["users_without_identity"]["ids"] == [drifted["unlinked"]]
    assert set(drift["subjects_pointing_nowhere"]["ids"]) == {admin["id"], drifted["nowhere"]}
    assert drift["email_mismatches"]["ids"] == [drifted["mismatched"]]
    assert drift["identities_without_user"]["ids"] == [drifted["orphan"]]
    assert "repaired" not in result
    assert tasks(db_engine) == []
    assert pool.identity(drifted["orphan"])["Enabled"] is True  # type: ignore[index]


def test_reconcile_repairs_the_drift_and_the_next_run_finds_none(
    drifted: dict[str, str], admin: dict[str, Any], pool: UserPool, db_engine: Engine
) -> None:
    result = reconcile(repair=True)

    assert result["repaired"] == {
        "provisioning_enqueued": 1,
        "relinking_enqueued": 2,
        "email_sync_enqueued": 1,
        "identities_disabled": 1,
    }
    assert pool.identity(drifted["orphan"])["Enabled"] is False  # type: ignore[index]
    assert drain()["done"] == 4
    age_identities(pool)

    assert counts(reconcile(repair=False)) == dict.fromkeys(counts(result), 0)
    kept = pool.identity(linked_subject(db_engine, drifted["mismatched"]) or "")
    assert kept is not None
    assert kept["Attributes"]["email"] == "kept@example.com"
    for user_id in (admin["id"], drifted["nowhere"], drifted["unlinked"]):
        subject = linked_subject(db_engine, user_id)
        assert subject is not None
        assert pool.identity(subject) is not None
    assert tasks(db_engine) == []


def test_work_in_flight_is_not_drift() -> None:
    now = datetime.now(UTC)
    pending = UserIdentity(id="u1", email="new@example.com", subject=None)  # type: ignore[arg-type]
    users = [pending]
    identities = [
        # Created by a provisioning that has not linked yet: its email is an unlinked user's.
        Identity(subject="s1", email="new@example.com", enabled=True, created_at=now),
        # Created moments ago for a user the table read before did not have.
        Identity(subject="s2", email="newer@example.com", enabled=True, created_at=now),
        # Disabled already: no longer able to sign in.
        Identity(subject="s3", email="x@example.com", enabled=False, created_at=now),
    ]

    drift = find_drift(users, {"u1"}, identities, listed_at=now)

    assert drift.report() == {
        kind: {"count": 0, "ids": []}
        for kind in (
            "users_without_identity",
            "subjects_pointing_nowhere",
            "email_mismatches",
            "identities_without_user",
        )
    }


def test_a_listing_cut_short_by_the_invocation_judges_nothing(
    drifted: dict[str, str], db_engine: Engine
) -> None:
    from types import SimpleNamespace

    # 2 s left, and a Cognito attempt may take 7 s: no page can be read.
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 2_000)

    result = sweeper({"action": "reconcile-identities", "repair": True}, context)

    assert result == {"complete": False, "identities_listed": 0}
    assert tasks(db_engine) == []


def test_reconcile_without_a_user_pool_says_which_setting_is_missing(app_env: Any) -> None:
    with pytest.raises(ValueError, match="COGNITO_USER_POOL_ID"):
        reconcile(repair=False)

"""Reconciling the user pool with the table: what drifted, and its repair on request.

The table is read first, then the pool, so an identity linked before the table was read is
in the listing. What a request or a task is doing meanwhile is not drift: users with a
provisioning task, identities whose email is an unlinked user's (the task links them), and
identities younger than the outbox's lease are left alone. Drift:

- `users_without_identity`: unlinked users that no task provisions (repair: a task does);
- `subjects_pointing_nowhere`: users linked to an identity the pool does not have (repair:
  unlinked, and a new identity provisioned);
- `email_mismatches`: users whose identity has another email (repair: a task gives it the
  user's email, the table being the source of truth);
- `identities_without_user`: enabled identities no user is linked to (repair: signed out and
  disabled, which an operator can undo with AdminEnableUser).

Table repairs are tasks the next drain runs; the identities are disabled here, while time
is left. Nothing is judged on a partial listing of the pool.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from lambda_app.config import get_settings
from lambda_app.crud import identities as crud
from lambda_app.crud.outbox import LEASE
from lambda_app.deadline import Deadline
from lambda_app.external_services import cognito

logger = logging.getLogger(__name__)
# How many ids of each kind of drift a report lists (it counts them all).
REPORTED_IDS = 20


@dataclass(frozen=True)
class Drift:
    """Ids of the users (and `sub`s of the identities) that differ between table and pool."""

    users_without_identity: list[Any]
    subjects_pointing_nowhere: list[Any]
    email_mismatches: list[Any]
    identities_without_user: list[str]

    def report(self) -> dict[str, Any]:
        """Counts, and the first ids of each kind (no emails: they are personal data)."""
        kinds = {
            "users_without_identity": self.users_without_identity,
            "subjects_pointing_nowhere": self.subjects_pointing_nowhere,
            "email_mismatches": self.email_mismatches,
            "identities_without_user": self.identities_without_user,
        }
        return {
            name: {"count": len(ids), "ids": [str(i) for i in ids[:REPORTED_IDS]]}
            for name, ids in kinds.items()
        }


def reconcile(engine: Engine, deadline: Deadline, *, repair: bool) -> dict[str, Any]:
    """Report the drift between the pool and the table; with `repair`, repair it."""
    started = datetime.now(UTC)
    with engine.connect() as connection:
        users = crud.every_user_identity(connection)
        provisioning = crud.users_with_provisioning_task(connection)
    identities, complete = cognito.list_identities(deadline=deadline)
    if not complete:
        logger.warning(
            "Reconcile stopped: %d identities listed before time ran out", len(identities)
        )
        return {"complete": False, "identities_listed": len(identities)}
    drift = find_drift(users, provisioning, identities, listed_at=started)
    result: dict[str, Any] = {
        "complete": True,
        "users": len(users),
        "identities": len(identities),
        "drift": drift.report(),
    }
    if repair:
        result["repaired"] = _repair(engine, deadline, drift)
    logger.info("Reconciled identities: %s", result)
    return result


def find_drift(
    users: list[crud.UserIdentity],
    provisioning: set[Any],
    identities: list[cognito.Identity],
    *,
    listed_at: datetime,
) -> Drift:
    """Compare the table's users with the pool's identities (both read in full)."""
    by_subject = {identity.subject: identity for identity in identities}
    held = {user.subject for user in users if user.subject is not None}
    unlinked_emails = {user.email for user in users if user.subject is None}
    settled_before = listed_at - LEASE
    return Drift(
        users_without_identity=[
            user.id for user in users if user.subject is None and user.id not in provisioning
        ],
        subjects_pointing_nowhere=[
            user.id for user in users if user.subject is not None and user.subject not in by_subject
        ],
        email_mismatches=[
            user.id
            for user in users
            if user.subject in by_subject and by_subject[user.subject].email != user.email
        ],
        identities_without_user=[
            identity.subject
            for identity in identities
            if identity.enabled
            and identity.subject not in held
            and identity.email not in unlinked_emails
            and (identity.created_at is None or identity.created_at < settled_before)
        ],
    )


def _repair(engine: Engine, deadline: Deadline, drift: Drift) -> dict[str, int]:
    with engine.connect() as connection:
        provisioned = crud.enqueue_provisioning(
            connection, user_ids=drift.users_without_identity, invite=True
        )
        relinked = crud.unlink_and_provision(
            connection, user_ids=drift.subjects_pointing_nowhere, invite=True
        )
        synced = crud.enqueue_email_sync(connection, user_ids=drift.email_mismatches)
    disabled = 0
    attempt_seconds = cognito.longest_attempt_seconds(get_settings())
    for subject in drift.identities_without_user:
        if not deadline.allows(attempt_seconds):
            break
        disabled += cognito.disable_identity(subject, deadline=deadline)
    return {
        "provisioning_enqueued": provisioned,
        "relinking_enqueued": relinked,
        "email_sync_enqueued": synced,
        "identities_disabled": disabled,
    }

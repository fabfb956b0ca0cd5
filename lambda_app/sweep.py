"""The sweeper Lambda: drains the outbox every few minutes, and sweeps orphaned files daily.

- `{"action": "drain"}` (every 5 minutes): runs the outbox tasks that are due (what a request
  failed or abandoned: removing a deleted user's files, creating, updating or removing an
  identity), then reports the backlog as metrics.
- `{"action": "sweep"}`, or any event without an action (daily): a presigned upload form
  stays valid for PRESIGN_EXPIRES_SECONDS and S3 cannot revoke it, so a form issued before a
  user was deleted can still put a file under users/{id}/ afterwards. The sweep finds the
  folders of ids that are no users and deletes every version in them.
- `{"action": "redrive"}` (an operator's): dead-lettered tasks become pending again.
- `{"action": "reconcile-identities", "repair": false|true}` (an operator's): report the drift
  between the user pool and the table (lambda_app/reconcile.py), and repair it when asked.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine

from lambda_app import outbox, reconcile
from lambda_app.config import get_settings
from lambda_app.crud import outbox as outbox_crud
from lambda_app.crud.users import existing_user_ids
from lambda_app.db import create_engine_from_settings
from lambda_app.deadline import Deadline
from lambda_app.external_services import aws
from lambda_app.external_services.cognito import provisioning_enabled
from lambda_app.external_services.outbox_metrics import record_backlog

logger = logging.getLogger(__name__)
SWEEP_APPLICATION_NAME = "users-service-sweep"
ACTIONS = ("sweep", "drain", "redrive", "reconcile-identities")


def handler(event: Any = None, context: Any = None) -> dict[str, Any]:
    """Run the event's action (a scheduled event without one sweeps); return what it did."""
    event = event or {}
    action = event.get("action", "sweep")
    deadline = Deadline.of_invocation(context)
    if action == "sweep":
        return sweep(deadline)
    if action == "drain":
        return drain(deadline)
    if action == "redrive":
        return redrive()
    if action == "reconcile-identities":
        return reconcile_identities(deadline, repair=event.get("repair") is True)
    raise ValueError(f"Unknown action {action!r}: one of {', '.join(ACTIONS)}.")


def _engine(*, pooled: bool) -> Engine:
    return create_engine_from_settings(
        get_settings(), pooled=pooled, autocommit=True, application_name=SWEEP_APPLICATION_NAME
    )


def sweep(deadline: Deadline) -> dict[str, int]:
    """Delete the files of users that no longer exist; return how many folders and versions."""
    with_files = aws.user_ids_with_files(deadline=deadline)
    if not with_files:
        return {"orphaned_users": 0, "deleted_versions": 0}
    engine = _engine(pooled=False)
    try:
        with engine.connect() as connection:
            orphans = with_files - existing_user_ids(connection, user_ids=with_files)
    finally:
        engine.dispose()
    # A user deleted while this runs is still listed as existing: the next sweep takes it.
    deleted = sum(aws.delete_user_files(user_id, deadline=deadline) for user_id in sorted(orphans))
    logger.info("Swept files of %d deleted users (%d versions)", len(orphans), deleted)
    return {"orphaned_users": len(orphans), "deleted_versions": deleted}


def drain(deadline: Deadline) -> dict[str, int]:
    """Run the due outbox tasks while time is left; report the backlog as metrics."""
    attempt_seconds = aws.longest_attempt_seconds(get_settings())
    # One pooled connection, given back while each task works.
    engine = _engine(pooled=True)
    try:
        report = outbox.drain(engine, deadline, attempt_seconds=attempt_seconds)
    finally:
        engine.dispose()
    record_backlog(report.backlog)
    logger.info(
        "Drained the outbox: %d done, %d failed, %d pending, %d dead-lettered",
        report.done,
        report.failed,
        report.backlog.pending,
        report.backlog.dead_lettered,
    )
    return {
        "done": report.done,
        "failed": report.failed,
        "pending": report.backlog.pending,
        "dead_lettered": report.backlog.dead_lettered,
    }


def redrive() -> dict[str, int]:
    """Make every dead-lettered task pending again; the next drain runs them."""
    engine = _engine(pooled=False)
    try:
        with engine.connect() as connection:
            redriven = outbox_crud.redrive(connection)
    finally:
        engine.dispose()
    logger.info("Redrove %d dead-lettered outbox tasks", redriven)
    return {"redriven": redriven}


def reconcile_identities(deadline: Deadline, *, repair: bool) -> dict[str, Any]:
    """Report (and with `repair`, repair) the drift between the user pool and the table."""
    if not provisioning_enabled():
        raise ValueError("No user pool to reconcile: set COGNITO_USER_POOL_ID.")
    engine = _engine(pooled=True)
    try:
        return reconcile.reconcile(engine, deadline, repair=repair)
    finally:
        engine.dispose()

"""The outbox: work on other systems that a committed change still owes, kept until done.

A change enqueues its task in the same statement or transaction as itself (`enqueue_from`),
so both commit or neither does. Whoever runs a task afterwards holds no connection while it
works, then marks it done (the row goes) or failed. Running a task claims it: `attempts`
goes up and `next_attempt_at` moves past the time a run can take (the lease), so no one
else starts it meanwhile; a run that dies without a word is retried once the lease is over.
A failed run is retried with exponential backoff; after MAX_ATTEMPTS the task is
dead-lettered (kept, never retried) until an operator redrives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Interval,
    Select,
    bindparam,
    case,
    delete,
    extract,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import ReturningInsert

from lambda_app.crud import statement
from lambda_app.models.tables import OUTBOX_ERROR_MAX_LENGTH
from lambda_app.models.tables import outbox_tasks as tasks


class TaskKind(StrEnum):
    """What a task does; `lambda_app/outbox.py` maps each kind to the code that does it."""

    DELETE_USER_FILES = "delete_user_files"
    # The user's Cognito identity: created (or found) and linked; its email kept in step
    # with the row's; signed out and deleted with the user (lambda_app/identities.py).
    PROVISION_IDENTITY = "provision_identity"
    SYNC_IDENTITY_EMAIL = "sync_identity_email"
    REMOVE_IDENTITY = "remove_identity"


# Longer than any one run of a task: a request's (API Gateway's 30 s at most) or a drain's
# (the sweeper function's timeout, infra/sweeper.py, which a test keeps within it).
LEASE = timedelta(minutes=5)
# A failed task waits 1, 2, 4, ... minutes, at most an hour, before its next attempt.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
# With the backoff above, a task is dead-lettered about two hours after its first failure.
MAX_ATTEMPTS = 8

TASK_COLUMNS = (tasks.c.id, tasks.c.kind, tasks.c.subject, tasks.c.payload, tasks.c.attempts)
# How a statement that returns a row and the task it owes names the task's columns.
OWED_PREFIX = "owed_"
_PENDING = tasks.c.dead_lettered_at.is_(None)
_LEASE_END = func.now() + bindparam("lease", LEASE, type_=Interval)


class Task(NamedTuple):
    """One claimed task: what to do, to whom, and which attempt this is."""

    id: int
    kind: TaskKind
    subject: str
    payload: Mapping[str, Any]
    attempts: int


class Backlog(NamedTuple):
    """What is left to do: pending and dead-lettered tasks, and the oldest pending one's age."""

    pending: int
    dead_lettered: int
    oldest_pending_seconds: float


def enqueue_from(
    rows: Select[*tuple[Any, ...]], *, kind: TaskKind | None = None
) -> ReturningInsert[Any]:
    """An INSERT of one task of `kind` per row of `rows`, returning them.

    `rows` has a text column `subject`, may have a JSONB column `payload` (else `{}`), and a
    text column `kind` when `kind` is not given (tasks of several kinds at once).
    The tasks are claimed by whoever runs the statement (`attempts` 1, under a lease): it
    runs them itself after its commit, and the drain takes over only if it does not report.
    Put the change in a CTE of `rows` (add it with `.add_cte` on the result), so that the
    change and its tasks are one statement.
    """
    source = rows.subquery("owed")
    payload = source.c.payload if "payload" in source.c else literal({}, tasks.c.payload.type)
    kinds = source.c.kind if kind is None else literal(kind.value, tasks.c.kind.type)
    return (
        insert(tasks)
        .from_select(
            ["kind", "subject", "payload", "attempts", "next_attempt_at"],
            select(
                kinds,
                source.c.subject,
                payload,
                literal(1, BigInteger),
                _LEASE_END,
            ),
        )
        .returning(*TASK_COLUMNS)
    )


def task_of(row: Any, *, prefix: str = "") -> Task:
    """The typed task of a row with TASK_COLUMNS (named with `prefix`)."""

    def value(name: str) -> Any:
        return getattr(row, prefix + name)

    return Task(
        id=value("id"),
        kind=TaskKind(value("kind")),
        subject=value("subject"),
        payload=value("payload"),
        attempts=value("attempts"),
    )


def owed_columns(owed: Any) -> list[Any]:
    """The task columns of `owed` (a CTE returning TASK_COLUMNS), named with OWED_PREFIX."""
    return [owed.c[column.name].label(OWED_PREFIX + column.name) for column in TASK_COLUMNS]


def owed_task(row: Any) -> Task | None:
    """The task a row with `owed_columns` carries, if any (an outer join may bring none)."""
    return (
        task_of(row, prefix=OWED_PREFIX) if getattr(row, OWED_PREFIX + "id") is not None else None
    )


def enqueue(
    connection: Connection, *, kind: TaskKind, subject: str, payload: Mapping[str, Any]
) -> None:
    """Add a task that is due now, for the drain (one statement)."""
    connection.execute(
        insert(tasks).values(kind=kind.value, subject=subject, payload=dict(payload))
    )


@statement
def _claim() -> Executable:
    """Claim the pending task due first, skipping tasks that another claim is taking.

    Only kinds this release knows: tasks of a later release, left behind by a rollback,
    wait for it (and show in the backlog) instead of failing here.
    """
    due = (
        select(tasks.c.id)
        .where(_PENDING, tasks.c.next_attempt_at <= func.now())
        .where(tasks.c.kind.in_([kind.value for kind in TaskKind]))
        .order_by(tasks.c.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(tasks)
        .where(tasks.c.id == due)
        .values(attempts=tasks.c.attempts + 1, next_attempt_at=_LEASE_END)
        .returning(*TASK_COLUMNS)
    )


@statement
def _complete() -> Executable:
    return delete(tasks).where(tasks.c.id == bindparam("task_id"))


@statement
def _fail() -> Executable:
    """Keep the error and schedule the next attempt, or dead-letter the task."""
    # Only the run that holds the latest claim reports; a stale one finds nothing to change.
    return (
        update(tasks)
        .where(tasks.c.id == bindparam("task_id"), tasks.c.attempts == bindparam("claimed"))
        .values(
            last_error=bindparam("last_error"),
            next_attempt_at=func.now() + bindparam("delay", type_=Interval),
            dead_lettered_at=case((bindparam("dead", type_=Boolean), func.now()), else_=None),
        )
    )


@statement
def _backlog() -> Executable:
    return select(
        func.count().filter(_PENDING).label("pending"),
        func.count().filter(~_PENDING).label("dead_lettered"),
        func.coalesce(
            extract("epoch", func.now() - func.min(tasks.c.created_at).filter(_PENDING)), 0
        ).label("oldest_pending_seconds"),
    )


def claim_next(connection: Connection) -> Task | None:
    """Claim the pending task that is due first, if any (one statement, committed at once)."""
    row = connection.execute(_claim()).first()
    return task_of(row) if row is not None else None


def complete(connection: Connection, *, task_id: int) -> None:
    """Mark the task done: it is deleted."""
    connection.execute(_complete(), {"task_id": task_id})


def retry_delay(attempts: int) -> timedelta:
    """How long a task that failed its `attempts`-th attempt waits before the next one."""
    return min(RETRY_BASE * (1 << max(attempts - 1, 0)), RETRY_CAP)


def record_failure(
    connection: Connection, *, task: Task, error: str, permanent: bool = False
) -> bool:
    """Keep why the attempt failed and schedule the next; return whether it was dead-lettered.

    After MAX_ATTEMPTS, or at once for a `permanent` failure that no retry can mend, the task
    is dead-lettered instead: kept, with its last error, and no longer retried.
    """
    dead = permanent or task.attempts >= MAX_ATTEMPTS
    connection.execute(
        _fail(),
        {
            "task_id": task.id,
            "claimed": task.attempts,
            "last_error": error[:OUTBOX_ERROR_MAX_LENGTH],
            "delay": retry_delay(task.attempts),
            "dead": dead,
        },
    )
    return dead


def redrive(connection: Connection) -> int:
    """Make every dead-lettered task pending again, due now with fresh attempts; return how many."""
    statement = (
        update(tasks)
        .where(~_PENDING)
        .values(dead_lettered_at=None, attempts=0, next_attempt_at=func.now())
        .returning(tasks.c.id)
    )
    return len(connection.execute(statement).all())


def backlog(connection: Connection) -> Backlog:
    """Count pending and dead-lettered tasks and age the oldest pending one (one statement)."""
    row = connection.execute(_backlog()).one()
    return Backlog(
        pending=int(row.pending),
        dead_lettered=int(row.dead_lettered),
        oldest_pending_seconds=float(row.oldest_pending_seconds),
    )

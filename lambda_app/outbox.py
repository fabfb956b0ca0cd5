"""Running outbox tasks: by the request that enqueued one, right after its commit, and by the
drain, which retries what failed or was left behind (crud/outbox.py has the rules).

A task runs with no database connection checked out: the connection is taken for the
one statement that claims or reports it (or that the task itself needs), and given back
before the task calls anything.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import NamedTuple

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from lambda_app import identities
from lambda_app.crud import outbox as crud
from lambda_app.crud.outbox import Backlog, Task, TaskKind
from lambda_app.deadline import Deadline
from lambda_app.exceptions import IdentityTakenError
from lambda_app.external_services import aws

logger = logging.getLogger(__name__)

# Does a claimed task; returns whether it already marked the task done itself (in a
# statement of its own work), else `run` does.
TaskHandler = Callable[[Engine, Task, Deadline], bool]
# Failures no retry can mend: the task is dead-lettered at once, for an operator.
PERMANENT_FAILURES: tuple[type[Exception], ...] = (IdentityTakenError,)


def _delete_user_files(_engine: Engine, task: Task, deadline: Deadline) -> bool:
    aws.delete_user_files(uuid.UUID(task.subject), deadline=deadline)
    return False


# Every kind of task and the code that does it; a task must be safe to run twice.
HANDLERS: Mapping[TaskKind, TaskHandler] = {
    TaskKind.DELETE_USER_FILES: _delete_user_files,
    TaskKind.PROVISION_IDENTITY: identities.provision_identity,
    TaskKind.SYNC_IDENTITY_EMAIL: identities.sync_identity_email,
    TaskKind.REMOVE_IDENTITY: identities.remove_identity,
}


def run(
    engine: Engine,
    task: Task,
    deadline: Deadline,
    *,
    propagate: tuple[type[Exception], ...] = (),
) -> bool:
    """Do a claimed task, then mark it done; on failure keep it for a retry. True when done.

    A report the database does not take is only logged: the task stays claimed, and the
    drain runs it again once the lease is over (tasks are safe to run twice). Errors of the
    `propagate` types are raised unrecorded, for a caller that undoes the change instead.
    """
    try:
        done = HANDLERS[task.kind](engine, task, deadline)
    except propagate:
        raise
    except Exception as error:  # whatever the task met, it stays in the outbox with the reason
        _report_failure(engine, task, error)
        return False
    if done:
        return True
    try:
        with engine.connect() as connection:
            crud.complete(connection, task_id=task.id)
    except SQLAlchemyError:
        logger.warning("Outbox task %d is done but could not be marked so", task.id, exc_info=True)
    return True


def _report_failure(engine: Engine, task: Task, error: Exception) -> None:
    reason = describe(error)
    permanent = isinstance(error, PERMANENT_FAILURES)
    try:
        with engine.connect() as connection:
            dead = crud.record_failure(connection, task=task, error=reason, permanent=permanent)
    except SQLAlchemyError:
        logger.warning("Outbox task %d failed: %s; not recorded", task.id, reason, exc_info=True)
        return
    logger.warning(
        "Outbox task %d (%s) failed attempt %d%s: %s",
        task.id,
        task.kind.value,
        task.attempts,
        ", dead-lettered" if dead else "",
        reason,
    )


def describe(error: BaseException) -> str:
    """The error and what caused it, as kept in `last_error` (class names and messages)."""
    parts = [f"{type(error).__name__}: {error}"]
    if error.__cause__ is not None:
        parts.append(f"{type(error.__cause__).__name__}: {error.__cause__}")
    return "; caused by ".join(parts)


class DrainReport(NamedTuple):
    """One drain: tasks done and failed, and what is left."""

    done: int
    failed: int
    backlog: Backlog


def drain(engine: Engine, deadline: Deadline, *, attempt_seconds: float) -> DrainReport:
    """Run due tasks one at a time while a task's attempt still fits before `deadline`."""
    done = failed = 0
    while deadline.allows(attempt_seconds):
        with engine.connect() as connection:
            task = crud.claim_next(connection)
        if task is None:
            break
        if run(engine, task, deadline):
            done += 1
        else:
            failed += 1
    with engine.connect() as connection:
        backlog = crud.backlog(connection)
    return DrainReport(done=done, failed=failed, backlog=backlog)

"""Changes to a user that reach past the database: their identity, their files.

Each change is written with the tasks it owes other systems in one short write (crud/); the
tasks run after the commit, holding no connection, and on failure by the outbox drain.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, Engine

from lambda_app import outbox
from lambda_app.crud import identities, last_admin
from lambda_app.crud import users as crud
from lambda_app.crud.outbox import Task, TaskKind
from lambda_app.crud.users import UserRow, Versions
from lambda_app.db import retrying_conflicts, transaction
from lambda_app.deadline import Deadline
from lambda_app.exceptions import IdentityTakenError
from lambda_app.idempotent_requests import KeyedRequest


def provision_identity(
    engine: Engine, task: Task, deadline: Deadline, keyed: KeyedRequest | None
) -> UserRow | None:
    """Create and link a new user's identity now; the user when linked, None when left to
    the drain. When the email's identity is another user's, undo the creation and raise."""
    try:
        done = outbox.run(engine, task, deadline, propagate=(IdentityTakenError,))
    except IdentityTakenError:
        answer = (keyed.subject, keyed.key) if keyed is not None else None
        with engine.connect() as connection:
            identities.undo_creation(
                connection, user_id=uuid.UUID(task.subject), task_id=task.id, answer=answer
            )
        raise
    if not done:
        return None
    with engine.connect() as connection:
        return identities.linked_user(connection, user_id=uuid.UUID(task.subject))


def update_user(
    connection: Connection,
    *,
    user_id: uuid.UUID,
    changes: dict[str, Any],
    versions: Versions,
    owes: TaskKind | None,
) -> UserRow:
    """Apply `changes`, owing the task `owes` names; only an admin's demotion waits for other
    admin changes, in a transaction retried when it loses to a concurrent one."""
    if not last_admin.demotes_an_admin(changes):
        user = crud.update_user(
            connection, user_id=user_id, changes=changes, versions=versions, owes=owes
        )
    else:
        user = last_admin.update_unless_admin(
            connection, user_id=user_id, changes=changes, versions=versions, owes=owes
        )
    if user is not None:
        return user

    def demote() -> UserRow:
        with transaction(connection):
            return last_admin.demote_admin(
                connection, user_id=user_id, changes=changes, versions=versions, owes=owes
            )

    return retrying_conflicts(demote)


def delete_user(
    connection: Connection, *, user_id: uuid.UUID, versions: Versions, identity: bool
) -> list[Task]:
    """Delete the user with the tasks that delete their files (and identity); the tasks.

    Anyone but an admin goes in one statement; an admin in a transaction that waits for
    other admin changes and keeps the last admin.
    """
    tasks = last_admin.delete_unless_admin(
        connection, user_id=user_id, versions=versions, identity=identity
    )
    if tasks is not None:
        return tasks

    def delete_admin() -> list[Task]:
        with transaction(connection):
            return last_admin.delete_admin(
                connection, user_id=user_id, versions=versions, identity=identity
            )

    return retrying_conflicts(delete_admin)


def run_deletion_tasks(
    engine: Engine, tasks: list[Task], deadline: Deadline
) -> dict[TaskKind, bool]:
    """Run a deletion's tasks, the identity's first (signing the person out matters more
    than their files); which of them are done."""
    ordered = sorted(tasks, key=lambda task: task.kind is not TaskKind.REMOVE_IDENTITY)
    return {task.kind: outbox.run(engine, task, deadline) for task in ordered}

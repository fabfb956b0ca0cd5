"""Database work on users' identities: the row and the task that provisions its identity,
the link to the identity's `sub`, and what reconciling the pool with the table reads and owes.

Each function is one statement. The identity itself is Cognito's (lambda_app/identities.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    Connection,
    String,
    Uuid,
    any_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from lambda_app.crud import outbox, statement
from lambda_app.crud.outbox import Task, TaskKind
from lambda_app.crud.users import USER_COLUMNS, UserRow, unique_violations
from lambda_app.models.tables import idempotency_keys, outbox_tasks, users


@statement
def _create() -> Any:
    """Insert a user and the task that provisions their identity: one statement."""
    created = (
        insert(users)
        .values(
            email=bindparam("new_email", type_=users.c.email.type),
            full_name=bindparam("new_full_name", type_=users.c.full_name.type),
            user_type=bindparam("new_user_type", type_=users.c.user_type.type),
        )
        .returning(*USER_COLUMNS)
        .cte("created")
    )
    owed_rows = select(
        cast(created.c.id, String).label("subject"),
        bindparam("payload", type_=JSONB).label("payload"),
    )
    owed = outbox.enqueue_from(owed_rows, kind=TaskKind.PROVISION_IDENTITY).cte("owed")
    return select(*created.c, *outbox.owed_columns(owed)).select_from(created.join(owed, true()))


@statement
def _link() -> Any:
    """Link the unlinked user who still has the email to the identity, and mark the task
    done, in one statement; with the user as it was, to tell why nothing was linked."""
    user_id = bindparam("user_id", type_=Uuid)
    linked = (
        update(users)
        .where(
            users.c.id == user_id,
            users.c.subject.is_(None),
            users.c.email == bindparam("provisioned_email", type_=users.c.email.type),
        )
        .values(
            subject=bindparam("identity", type_=users.c.subject.type),
            updated_at=func.clock_timestamp(),
        )
        .returning(users.c.id)
        .cte("linked")
    )
    done = (
        delete(outbox_tasks)
        .where(outbox_tasks.c.id == bindparam("task_id"), exists(select(linked.c.id)))
        .cte("done")
    )
    # The statement's snapshot: the user before the update above.
    before = select(users.c.email, users.c.subject).where(users.c.id == user_id).subquery("before")
    one = select(literal(1).label("one")).subquery("one")
    return (
        select(
            exists(select(linked.c.id)).label("linked"),
            before.c.email.label("email_was"),
            before.c.subject.label("subject_was"),
            exists(select(before.c.email)).label("found"),
        )
        .select_from(one.outerjoin(before, true()))
        .add_cte(done)
    )


@statement
def _user_link() -> Any:
    return select(users.c.email, users.c.subject).where(users.c.id == bindparam("user_id"))


@statement
def _linked_user() -> Any:
    return select(*USER_COLUMNS).where(
        users.c.id == bindparam("user_id"), users.c.subject.is_not(None)
    )


@statement
def _holds_identity() -> Any:
    return select(exists().where(users.c.subject == bindparam("identity")))


def create_user_owing_identity(
    connection: Connection,
    *,
    email: str,
    full_name: str | None,
    user_type: Any,
    payload: Mapping[str, Any],
) -> tuple[UserRow, Task]:
    """Insert a user with the (claimed) task that provisions their identity; raise on a taken
    email."""
    parameters = {
        "new_email": email,
        "new_full_name": full_name,
        "new_user_type": user_type,
        "payload": dict(payload),
    }
    with unique_violations():
        row = connection.execute(_create(), parameters).one()
    task = outbox.owed_task(row)
    assert task is not None  # one task per inserted user, in the same statement
    return row, task


class UserLink(NamedTuple):
    """A user's email and the identity their row is linked to, if any."""

    email: str
    subject: str | None


def user_link(connection: Connection, *, user_id: uuid.UUID) -> UserLink | None:
    """Return the user's email and identity now; None when the user is gone."""
    row = connection.execute(_user_link(), {"user_id": user_id}).first()
    return UserLink(email=row.email, subject=row.subject) if row is not None else None


class LinkOutcome(NamedTuple):
    """Whether the link was made (and its task done), else the user as it was (None: gone)."""

    linked: bool
    before: UserLink | None


def link_identity(
    connection: Connection, *, user_id: uuid.UUID, email: str, subject: str, task_id: int
) -> LinkOutcome:
    """Link the user to `subject` if still unlinked and still at `email`, and mark the task
    done; raise `IdentityAlreadyRegisteredError` when another user holds `subject`."""
    parameters = {
        "user_id": user_id,
        "provisioned_email": email,
        "identity": subject,
        "task_id": task_id,
    }
    with unique_violations():
        row = connection.execute(_link(), parameters).one()
    before = UserLink(email=row.email_was, subject=row.subject_was) if row.found else None
    return LinkOutcome(linked=bool(row.linked), before=before)


def linked_user(connection: Connection, *, user_id: uuid.UUID) -> UserRow | None:
    """Return the user as the API shows them, if linked to an identity."""
    return connection.execute(_linked_user(), {"user_id": user_id}).first()


def holds_identity(connection: Connection, *, subject: str) -> bool:
    """Tell whether a user is linked to the identity `subject`."""
    return bool(connection.execute(_holds_identity(), {"identity": subject}).scalar())


def undo_creation(
    connection: Connection, *, user_id: uuid.UUID, task_id: int, answer: tuple[str, str] | None
) -> None:
    """Delete a user created moments ago who got no identity, their task and the saved answer
    of the request that created them (`answer`: the caller's subject and key), at once."""
    gone = (
        delete(users)
        .where(users.c.id == user_id, users.c.subject.is_(None))
        .returning(users.c.id)
        .cte("gone")
    )
    statement = (
        select(func.count())
        .select_from(gone)
        .add_cte(delete(outbox_tasks).where(outbox_tasks.c.id == task_id).cte("task"))
    )
    if answer is not None:
        subject, key = answer
        statement = statement.add_cte(
            delete(idempotency_keys)
            .where(idempotency_keys.c.subject == subject, idempotency_keys.c.idempotency_key == key)
            .cte("answer")
        )
    connection.execute(statement)


# --- reconciling the pool with the table


class UserIdentity(NamedTuple):
    """What reconciling reads of each user: id, email and identity."""

    id: uuid.UUID
    email: str
    subject: str | None


def every_user_identity(connection: Connection) -> list[UserIdentity]:
    """Every user's id, email and identity (one statement)."""
    rows = connection.execute(select(users.c.id, users.c.email, users.c.subject))
    return [UserIdentity(id=row.id, email=row.email, subject=row.subject) for row in rows]


def users_with_provisioning_task(connection: Connection) -> set[uuid.UUID]:
    """Ids of users with a provisioning task, pending or dead-lettered."""
    rows = connection.execute(
        select(outbox_tasks.c.subject).where(
            outbox_tasks.c.kind == TaskKind.PROVISION_IDENTITY.value
        )
    )
    return {uuid.UUID(row.subject) for row in rows}


_IDS = bindparam("ids", type_=ARRAY(Uuid))


def _due_tasks(kind: TaskKind, ids: Any, payload: Mapping[str, Any]) -> Any:
    """Tasks of `kind`, due now, for the users with `ids` (a column of ids)."""
    return insert(outbox_tasks).from_select(
        ["kind", "subject", "payload"],
        select(
            literal(kind.value, outbox_tasks.c.kind.type),
            cast(ids, String),
            literal(dict(payload), outbox_tasks.c.payload.type),
        ),
    )


def enqueue_provisioning(
    connection: Connection, *, user_ids: Collection[uuid.UUID], invite: bool
) -> int:
    """Owe an identity to each of these users still unlinked; return how many tasks."""
    unlinked = select(users.c.id).where(users.c.id == any_(_IDS), users.c.subject.is_(None))
    owed = unlinked.subquery("unlinked")
    statement = _due_tasks(TaskKind.PROVISION_IDENTITY, owed.c.id, {"invite": invite})
    rows = connection.execute(statement.returning(outbox_tasks.c.id), {"ids": list(user_ids)})
    return len(rows.all())


def unlink_and_provision(
    connection: Connection, *, user_ids: Collection[uuid.UUID], invite: bool
) -> int:
    """Unlink these users from identities that no longer exist and owe them new ones."""
    unlinked = (
        update(users)
        .where(users.c.id == any_(_IDS), users.c.subject.is_not(None))
        .values(subject=None, updated_at=func.clock_timestamp())
        .returning(users.c.id)
        .cte("unlinked")
    )
    statement = _due_tasks(TaskKind.PROVISION_IDENTITY, unlinked.c.id, {"invite": invite})
    rows = connection.execute(
        statement.returning(outbox_tasks.c.id).add_cte(unlinked), {"ids": list(user_ids)}
    )
    return len(rows.all())


def enqueue_email_sync(connection: Connection, *, user_ids: Collection[uuid.UUID]) -> int:
    """Owe each of these users an update of their identity's email to their row's."""
    linked = select(users.c.id).where(users.c.id == any_(_IDS), users.c.subject.is_not(None))
    statement = _due_tasks(TaskKind.SYNC_IDENTITY_EMAIL, linked.subquery("linked").c.id, {})
    rows = connection.execute(statement.returning(outbox_tasks.c.id), {"ids": list(user_ids)})
    return len(rows.all())

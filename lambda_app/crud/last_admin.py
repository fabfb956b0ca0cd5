"""Deleting users and taking away the admin role, so that the service always keeps an admin.

Each change is tried first on a user who is not an admin: one statement that locks only
that user's row, so a customer's or staff member's change never waits for anyone's admin
change. Only when the user is an admin does the caller run the second half in a transaction
(`db.transaction()`): it takes the lock on admin changes, and changes the admin only if
another admin remains. Two admins removing each other therefore cannot both succeed.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    Uuid,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import ReturningInsert

from lambda_app.crud import outbox, statement
from lambda_app.crud.outbox import Task, TaskKind
from lambda_app.crud.users import (
    UserRow,
    Versions,
    at_versions,
    raise_if_missing_or_changed,
    update_user,
)
from lambda_app.exceptions import LastAdminError
from lambda_app.models.tables import users
from lambda_app.utils.user_type_enum import UserType

# Any fixed 64-bit number; every change that can remove an admin takes it.
ADMIN_CHANGES_LOCK_ID = 0x75736572735F6164  # "users_ad"
_NOT_AN_ADMIN = users.c.user_type != UserType.ADMIN
_NOT_THE_LAST_ADMIN = or_(
    _NOT_AN_ADMIN,
    exists().where(
        users.c.user_type == UserType.ADMIN, users.c.id != bindparam("user_id", type_=Uuid)
    ),
)


def demotes_an_admin(changes: dict[str, Any]) -> bool:
    """Tell whether `changes` would take the admin role from a user who has it."""
    return changes.get("user_type", UserType.ADMIN) is not UserType.ADMIN


def update_unless_admin(
    connection: Connection,
    *,
    user_id: uuid.UUID,
    changes: dict[str, Any],
    versions: Versions,
    owes: TaskKind | None = None,
) -> UserRow | None:
    """Apply `changes` that set another type than admin, if the user is not an admin.

    None when they are: `demote_admin` must do it. Raises as `users.update_user` does.
    """
    return update_user(
        connection,
        user_id=user_id,
        changes=changes,
        versions=versions,
        guard=[_NOT_AN_ADMIN],
        owes=owes,
    )


def demote_admin(
    connection: Connection,
    *,
    user_id: uuid.UUID,
    changes: dict[str, Any],
    versions: Versions,
    owes: TaskKind | None = None,
) -> UserRow:
    """In the caller's transaction: after other admin changes, apply `changes` unless the user
    is the last admin (`LastAdminError`)."""
    _wait_for_other_admin_changes(connection)
    row = update_user(
        connection,
        user_id=user_id,
        changes=changes,
        versions=versions,
        guard=[_NOT_THE_LAST_ADMIN],
        owes=owes,
    )
    if row is None:
        _refuse_the_last_admin(connection, user_id, versions)
    return row


def _deleted_with_tasks(*guard: ColumnElement[bool], identity: bool) -> ReturningInsert[Any]:
    """Delete the user (if `guard` holds) and enqueue the removal of their files, and with
    `identity` of their identity too (by `sub`, else by email): one statement."""
    deleted = (
        delete(users)
        .where(users.c.id == bindparam("user_id"), *guard)
        .returning(users.c.id, users.c.email, users.c.subject)
        .cte("deleted")
    )
    subject = cast(deleted.c.id, String).label("subject")
    files = select(literal(TaskKind.DELETE_USER_FILES.value).label("kind"), subject)
    if not identity:
        return outbox.enqueue_from(files).add_cte(deleted)
    no_payload = literal({}, JSONB).label("payload")
    its_identity = func.jsonb_build_object(
        "identity", deleted.c.subject, "email", deleted.c.email
    ).label("payload")
    both = union_all(
        files.add_columns(no_payload),
        select(literal(TaskKind.REMOVE_IDENTITY.value).label("kind"), subject, its_identity),
    )
    return outbox.enqueue_from(both.subquery().select()).add_cte(deleted)


def _with_and_without_identity(guard: ColumnElement[bool]) -> dict[bool, ReturningInsert[Any]]:
    """The guarded delete by `identity`: with the identity's removal task, or without it (owed
    only while the service manages identities)."""
    return {identity: _deleted_with_tasks(guard, identity=identity) for identity in (False, True)}


@statement
def _delete_non_admin() -> dict[bool, ReturningInsert[Any]]:
    return _with_and_without_identity(_NOT_AN_ADMIN)


@statement
def _delete_unless_last_admin() -> dict[bool, ReturningInsert[Any]]:
    return _with_and_without_identity(_NOT_THE_LAST_ADMIN)


@statement
def _lock_admin_changes() -> Executable:
    return select(func.pg_advisory_xact_lock(ADMIN_CHANGES_LOCK_ID))


def delete_unless_admin(
    connection: Connection, *, user_id: uuid.UUID, versions: Versions, identity: bool
) -> list[Task] | None:
    """Delete a user who is not an admin, with the tasks that remove their files (and, with
    `identity`, their identity).

    One statement, so the tasks exist if and only if the user is gone. None when the user
    is an admin: `delete_admin` must do it. Raises `UserNotFoundError` or `UserChangedError`.
    """
    statement = _delete_non_admin()[identity]
    if versions is not None:
        statement = _deleted_with_tasks(_NOT_AN_ADMIN, *at_versions(versions), identity=identity)
    rows = connection.execute(statement, {"user_id": user_id}).all()
    if rows:
        return [outbox.task_of(row) for row in rows]
    raise_if_missing_or_changed(connection, user_id, versions)
    return None


def delete_admin(
    connection: Connection, *, user_id: uuid.UUID, versions: Versions, identity: bool
) -> list[Task]:
    """In the caller's transaction: after other admin changes, delete the user with the tasks
    that remove their files (and identity), unless they are the last admin (`LastAdminError`)."""
    _wait_for_other_admin_changes(connection)
    statement = _delete_unless_last_admin()[identity]
    if versions is not None:
        statement = _deleted_with_tasks(
            _NOT_THE_LAST_ADMIN, *at_versions(versions), identity=identity
        )
    rows = connection.execute(statement, {"user_id": user_id}).all()
    if not rows:
        _refuse_the_last_admin(connection, user_id, versions)
    return [outbox.task_of(row) for row in rows]


def _wait_for_other_admin_changes(connection: Connection) -> None:
    """Take the transaction's lock on changes that can remove an admin.

    It is released at commit or rollback (never held by the session), and the statements
    after it see every admin change committed before.
    """
    connection.execute(_lock_admin_changes())


def _refuse_the_last_admin(
    connection: Connection, user_id: uuid.UUID, versions: Versions
) -> NoReturn:
    raise_if_missing_or_changed(connection, user_id, versions)
    raise LastAdminError("This is the only admin left; make someone else an admin first.")

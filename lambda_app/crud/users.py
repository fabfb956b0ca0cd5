"""Database work on users: plain functions on a Core connection, raising domain errors.

Each function is one statement, so it is atomic on its own; a caller that needs several
statements to succeed or fail together runs them on a transactional connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    Row,
    String,
    Uuid,
    any_,
    bindparam,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable, Select
from sqlalchemy.sql.selectable import ScalarSelect

from lambda_app.crud import outbox, statement
from lambda_app.crud.outbox import TaskKind
from lambda_app.db import execute_first, server_error_field
from lambda_app.exceptions import (
    BootstrapConflictError,
    EmailAlreadyExistsError,
    IdentityAlreadyRegisteredError,
    UserChangedError,
    UserNotFoundError,
)
from lambda_app.models.tables import user_counts, users
from lambda_app.utils.cursors import UserKey
from lambda_app.utils.user_type_enum import UserType

ALREADY_REGISTERED = "You are already registered: GET /users/me."
UNIQUE_EMAIL_CONSTRAINT = "uq_users_email"
UNIQUE_SUBJECT_CONSTRAINT = "uq_users_subject"
# What the API shows of a user; `subject` stays inside.
USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.full_name,
    users.c.user_type,
    users.c.created_at,
    users.c.updated_at,
    users.c.version,  # not in the body: the ETag
)
UserRow = Row[*tuple[Any, ...]]


# Built on first use (lambda_app.crud): a request only binds values.
@statement
def _caller_by_subject() -> Executable:
    return select(users.c.id, users.c.user_type).where(users.c.subject == bindparam("subject"))


@statement
def _user_by_subject() -> Executable:
    return select(*USER_COLUMNS).where(users.c.subject == bindparam("subject"))


@statement
def _caller_and_user() -> Executable:
    """The caller's id and type beside the user they ask about, in one row (the user's columns
    null when there is no such user); no row before the caller registers."""
    # One row, not one per user: decoding a second row cost GET /users/{id} 40 Python calls
    # (`python -m bench.parts`: 1.27 -> 1.25 of the bare stack's CPU).
    caller = users.alias("caller")
    user = users.alias("target")
    return (
        select(
            caller.c.id.label("caller_id"),
            caller.c.user_type.label("caller_type"),
            *(user.c[column.key] for column in USER_COLUMNS),
        )
        .select_from(caller.outerjoin(user, user.c.id == bindparam("user_id")))
        .where(caller.c.subject == bindparam("subject"))
    )


@statement
def _insert_user() -> Executable:
    return insert(users).returning(*USER_COLUMNS)


@statement
def _count_of_all() -> Select[int]:
    """All users, from the per-type totals."""
    # sum() of bigint is numeric in PostgreSQL; the total is an integer.
    return select(cast(func.coalesce(func.sum(user_counts.c.total), 0), BigInteger))


class Caller(NamedTuple):
    """The registered user behind a request: enough to decide what they may do."""

    id: uuid.UUID
    user_type: UserType


def find_caller(connection: Connection, *, subject: str) -> Caller | None:
    """Return the user linked to this identity, if any.

    It is a request's first statement, so it also revives a connection that died in the pool.
    """
    row = execute_first(connection, _caller_by_subject(), {"subject": subject}).first()
    return Caller(id=row.id, user_type=row.user_type) if row is not None else None


class CallerAndUser(NamedTuple):
    """The caller (None before they register), the id they asked about and its user, if any."""

    caller: Caller | None
    user_id: uuid.UUID
    user: UserRow | None


def find_user_by_subject(connection: Connection, *, subject: str) -> UserRow | None:
    """Return the user linked to this identity, as the API shows it; a request's first statement."""
    return execute_first(connection, _user_by_subject(), {"subject": subject}).first()


def find_caller_and_user(
    connection: Connection, *, subject: str, user_id: uuid.UUID
) -> CallerAndUser:
    """Return the caller and the user with `user_id` in one round trip; the first statement."""
    row = execute_first(
        connection, _caller_and_user(), {"subject": subject, "user_id": user_id}
    ).first()
    if row is None:
        return CallerAndUser(caller=None, user_id=user_id, user=None)
    caller = Caller(id=row.caller_id, user_type=row.caller_type)
    return CallerAndUser(caller=caller, user_id=user_id, user=row if row.id is not None else None)


@statement
def _register_or_link() -> Executable:
    """Link the unlinked user with this email to the identity, or insert a new customer.

    One statement: both parts see the same snapshot, so exactly one of them acts when the
    email is free or unlinked, and neither when its user is linked to someone else.
    """
    # Not named like the columns: an UPDATE would take such names as values to set.
    email = bindparam("verified_email", type_=users.c.email.type)
    subject = bindparam("identity", type_=users.c.subject.type)
    linked = (
        update(users)
        .where(users.c.email == email, users.c.subject.is_(None))
        .values(subject=subject, updated_at=func.clock_timestamp())
        .returning(*USER_COLUMNS)
        .cte("linked")
    )
    email_taken = exists().where(users.c.email == email)
    # A twin request that inserts the same identity or email after this statement's snapshot
    # makes the insert a conflict, not an error: register_or_link then asks who won.
    inserted = (
        pg_insert(users)
        .from_select(
            ["email", "user_type", "subject"],
            select(email, literal(UserType.CUSTOMER, users.c.user_type.type), subject).where(
                ~email_taken
            ),
        )
        .on_conflict_do_nothing()
        .returning(*USER_COLUMNS)
        .cte("inserted")
    )
    return union_all(
        select(*linked.c, false().label("created")), select(*inserted.c, true().label("created"))
    )


@statement
def _user_version() -> Executable:
    return select(users.c.version).where(users.c.id == bindparam("user_id"))


# Versions = None: no precondition. Otherwise the row must be at one of them: the check is in
# the statement that writes, so of two writers holding one ETag only the first can match
# (the second waits for the row lock, then sees the raised version).
Versions = Collection[int] | None


def at_versions(versions: Versions) -> list[Any]:
    """The condition that the user is at one of `versions` (none without versions)."""
    return [] if versions is None else [users.c.version.in_(list(versions))]


def register_or_link(
    connection: Connection, *, email: str, subject: str
) -> tuple[UserRow, bool] | None:
    """Register the identity as a customer, or link it to the unlinked user with this email.

    Returns the user and whether they were created; None when the user with this email is
    already linked to another identity (they are never relinked). Raises
    `IdentityAlreadyRegisteredError` when a twin request registered this identity after the
    caller was looked up: the statement then finds the email taken by the caller itself.
    """
    parameters = {"verified_email": email, "identity": subject}
    with unique_violations():  # the link, when this identity holds another account
        row = connection.execute(_register_or_link(), parameters).first()
    if row is not None:
        return row, bool(row.created)
    # Rare: only when nothing was registered. A new statement sees what the twin committed.
    if connection.execute(_caller_by_subject(), {"subject": subject}).first() is not None:
        raise IdentityAlreadyRegisteredError(ALREADY_REGISTERED)
    return None


def create_user(
    connection: Connection,
    *,
    email: str,
    full_name: str | None,
    user_type: UserType,
    subject: str | None = None,
) -> UserRow:
    """Insert a user; raise on a taken email or identity."""
    values = {"email": email, "full_name": full_name, "user_type": user_type, "subject": subject}
    with unique_violations():
        return connection.execute(_insert_user(), values).one()


def user_or_raise(row: UserRow | None, user_id: uuid.UUID) -> UserRow:
    """Return `row`, or raise `UserNotFoundError` for `user_id` when there is none."""
    if row is None:
        raise UserNotFoundError(f"No user has id {user_id}.")
    return row


def list_users(
    connection: Connection,
    *,
    limit: int,
    offset: int = 0,
    after: UserKey | None = None,
    user_type: UserType | None = None,
    email: str | None = None,
) -> tuple[Sequence[UserRow], int]:
    """Return up to `limit` users in (created_at, id) order, after the key `after` if given,
    and the number matching the filters.

    One statement: the total is read first, and the page joined to it, so that an empty
    page still carries the total. The key walks the (created_at, id) index: every page
    costs the same, and pages do not shift when users come or go.
    """
    statement = _page_statement(limit, offset, after, user_type, email, fresh=true())
    rows = connection.execute(statement).all()
    return _page(rows)


def list_users_if_fresh(
    connection: Connection,
    *,
    read_after: UserVersion,
    limit: int,
    offset: int = 0,
    after: UserKey | None = None,
    user_type: UserType | None = None,
    email: str | None = None,
) -> tuple[Sequence[UserRow], int] | None:
    """`list_users` on a replica, or None when it has not yet applied the write `read_after`.

    The check is part of the page statement (no extra round trip): the replica must hold the
    user of `read_after` at that version or a later one. A replica applies the writer's
    commits in order, so it then also holds every write committed before that one.
    """
    user_id, version = read_after
    fresh = exists().where(users.c.id == user_id, users.c.version >= version)
    rows = connection.execute(
        _page_statement(limit, offset, after, user_type, email, fresh=fresh)
    ).all()
    if not rows or not rows[0].fresh:
        return None
    return _page(rows)


# A write that a read must show: the user's id and their row version after it (its ETag).
UserVersion = tuple[uuid.UUID, int]


def _page_statement(
    limit: int,
    offset: int,
    after: UserKey | None,
    user_type: UserType | None,
    email: str | None,
    *,
    fresh: ColumnElement[bool],
) -> Executable:
    """The page joined to its total, and whether the server holds the write asked for."""
    filters: list[Any] = []
    if user_type is not None:
        filters.append(users.c.user_type == user_type)
    if email is not None:
        filters.append(users.c.email == email)
    counted = select(
        _count_users(user_type=user_type, email=email).label("total"), fresh.label("fresh")
    ).subquery()
    if after is not None:
        filters.append(tuple_(users.c.created_at, users.c.id) > tuple_(*after))
    page = (
        select(*USER_COLUMNS)
        .where(*filters)
        .order_by(users.c.created_at, users.c.id)
        .limit(limit)
        .offset(offset)
        .lateral("page")
    )
    return (
        select(counted.c.total, counted.c.fresh, *page.c)
        .select_from(counted.outerjoin(page, counted.c.fresh))
        .order_by(page.c.created_at, page.c.id)
    )


def _page(rows: Sequence[UserRow]) -> tuple[Sequence[UserRow], int]:
    total = int(rows[0].total) if rows else 0
    return [row for row in rows if row.id is not None], total


def _count_users(*, user_type: UserType | None, email: str | None) -> ScalarSelect[Any]:
    """Count matching users in constant time, whatever the size of the table.

    Counting rows grows with the table; the per-type totals kept by triggers do not. An
    email filter matches at most one row, found through the unique index.
    """
    if email is not None:
        filters = [users.c.email == email]
        if user_type is not None:
            filters.append(users.c.user_type == user_type)
        return select(func.count()).select_from(users).where(*filters).scalar_subquery()
    if user_type is not None:
        return (
            select(func.coalesce(func.sum(user_counts.c.total), 0))
            .where(user_counts.c.user_type == user_type)
            .scalar_subquery()
        )
    return _count_of_all().scalar_subquery()


def update_user(
    connection: Connection,
    *,
    user_id: uuid.UUID,
    changes: dict[str, Any],
    versions: Versions = None,
    guard: Sequence[ColumnElement[bool]] = (),
    owes: TaskKind | None = None,
) -> UserRow | None:
    """Apply `changes` to a user who also meets `guard`; `updated_at` and `version` advance,
    even if nothing differs.

    Raises `UserNotFoundError`, or `UserChangedError` when `versions` are given and the user
    is at none of them; returns None only when the user is found but fails `guard`.
    Changes that can take the admin role away go through `last_admin`, which guards them.
    With `owes`, the same statement enqueues (claimed) a task of that kind for the user if
    they are linked to an identity; `outbox.owed_task(row)` returns it.
    """
    statement = (
        update(users)
        .where(users.c.id == user_id, *guard, *at_versions(versions))
        .values(**changes, updated_at=func.clock_timestamp())
        .returning(*USER_COLUMNS)
    )
    if owes is not None:
        statement = _owing_identity_task(statement.returning(users.c.subject), owes)
    with unique_violations():
        row = connection.execute(statement, {"user_id": user_id}).first()
    if row is None:
        raise_if_missing_or_changed(connection, user_id, versions)
    return row


def _owing_identity_task(changed: Any, kind: TaskKind) -> Any:
    """`changed` (returning USER_COLUMNS and subject), and a task of `kind` for a linked user."""
    updated = changed.cte("updated")
    owed_rows = select(cast(updated.c.id, String).label("subject")).where(
        updated.c.subject.is_not(None)
    )
    owed = outbox.enqueue_from(owed_rows, kind=kind).cte("owed")
    return select(
        *(updated.c[column.name] for column in USER_COLUMNS), *outbox.owed_columns(owed)
    ).select_from(updated.outerjoin(owed, true()))


def raise_if_missing_or_changed(
    connection: Connection, user_id: uuid.UUID, versions: Versions
) -> None:
    """Raise `UserNotFoundError` when the user is gone, `UserChangedError` when `versions`
    are given and the user is at none of them."""
    found = connection.execute(_user_version(), {"user_id": user_id}).first()
    if found is None:
        raise UserNotFoundError(f"No user has id {user_id}.")
    if versions is not None and found.version not in versions:
        raise UserChangedError(
            "The user changed since the version in If-Match; read it again (GET) and retry."
        )


def promote_to_admin(connection: Connection, *, email: str, subject: str) -> tuple[uuid.UUID, bool]:
    """Link the user with `email` to `subject` as an admin, creating them if needed.

    Returns the user's id and whether it was created; the caller commits. Raises
    `BootstrapConflictError` when the email is one user's and the subject another's.
    """
    existing = connection.execute(
        select(users.c.id)
        .where(or_(users.c.email == email, users.c.subject == subject))
        .with_for_update()
    ).all()
    if len(existing) > 1:
        raise BootstrapConflictError(
            "The email belongs to one user and the subject to another; unlink or delete one first."
        )
    values = {"email": email, "subject": subject, "user_type": UserType.ADMIN}
    if not existing:
        created = connection.execute(insert(users).values(values).returning(users.c.id)).one()
        return created.id, True
    connection.execute(
        update(users)
        .where(users.c.id == existing[0].id)
        .values(**values, updated_at=func.clock_timestamp())
    )
    return existing[0].id, False


@contextmanager
def unique_violations() -> Iterator[None]:
    """Turn a unique-constraint violation into the domain error it means."""
    try:
        yield
    except IntegrityError as error:
        constraint = server_error_field(error, "n")
        if constraint == UNIQUE_EMAIL_CONSTRAINT:
            # Never the address itself: it would tell a caller which addresses are registered.
            raise EmailAlreadyExistsError("Another user already has this email.") from None
        if constraint == UNIQUE_SUBJECT_CONSTRAINT:
            raise IdentityAlreadyRegisteredError("This identity is already registered.") from None
        raise


def existing_user_ids(connection: Connection, *, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Return which of `user_ids` are users (one statement, whatever the number)."""
    rows = connection.execute(
        select(users.c.id).where(users.c.id == any_(bindparam("ids", type_=ARRAY(Uuid)))),
        {"ids": list(user_ids)},
    )
    return {row.id for row in rows}

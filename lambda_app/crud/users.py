"""Database work on users: plain functions taking a session, raising domain errors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lambda_app.exceptions import (
    EmailAlreadyExistsError,
    IdentityAlreadyRegisteredError,
    UserNotFoundError,
)
from lambda_app.models.user import User
from lambda_app.utils.user_type_enum import UserType

UNIQUE_EMAIL_CONSTRAINT = "uq_users_email"
UNIQUE_SUBJECT_CONSTRAINT = "uq_users_subject"


def create_user(
    session: Session,
    *,
    email: str,
    full_name: str | None,
    user_type: UserType,
    subject: str | None = None,
) -> User:
    """Insert a user and commit; raise on a taken email or subject."""
    user = User(email=email, full_name=full_name, user_type=user_type, subject=subject)
    session.add(user)
    _commit(session, email=email)
    return user


def find_user_by_subject(session: Session, *, subject: str) -> User | None:
    """Return the user linked to this identity, if any."""
    return session.scalars(select(User).where(User.subject == subject)).one_or_none()


def promote_to_admin(session: Session, *, email: str, subject: str) -> tuple[User, bool]:
    """Link the user with `email` to `subject` as an admin, creating them; the caller commits.

    Returns the user and whether it was created.
    """
    user = session.scalars(
        select(User).where(or_(User.email == email, User.subject == subject)).with_for_update()
    ).first()
    created = user is None
    if user is None:
        user = User(email=email, user_type=UserType.ADMIN, subject=subject)
        session.add(user)
    else:
        user.email, user.subject, user.user_type = email, subject, UserType.ADMIN
        user.updated_at = func.clock_timestamp()
    session.flush()
    return user, created


def get_user(session: Session, *, user_id: uuid.UUID) -> User:
    """Return the user with this id, or raise `UserNotFoundError`."""
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(f"No user has id {user_id}.")
    return user


def list_users(
    session: Session,
    *,
    limit: int,
    offset: int,
    user_type: UserType | None = None,
    email: str | None = None,
) -> tuple[Sequence[User], int]:
    """Return one page of users in creation order and the number matching the filters."""
    filters: list[Any] = []
    if user_type is not None:
        filters.append(User.user_type == user_type)
    if email is not None:
        filters.append(User.email == email)
    page = session.scalars(
        select(User).where(*filters).order_by(User.created_at, User.id).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(User).where(*filters)) or 0
    return page, total


def update_user(session: Session, *, user_id: uuid.UUID, changes: dict[str, Any]) -> User:
    """Apply `changes` to the user and commit; `updated_at` advances, set by the database."""
    user = lock_user(session, user_id=user_id)
    for field, value in changes.items():
        setattr(user, field, value)
    user.updated_at = func.clock_timestamp()
    _commit(session, email=changes.get("email"))
    return user


def lock_user(session: Session, *, user_id: uuid.UUID) -> User:
    """Return the user locked for update until the transaction ends, or raise."""
    user = session.scalars(select(User).where(User.id == user_id).with_for_update()).one_or_none()
    if user is None:
        raise UserNotFoundError(f"No user has id {user_id}.")
    return user


def delete_user(session: Session, *, user: User) -> None:
    """Delete a user in the current transaction; the caller commits."""
    session.delete(user)
    session.flush()


def _commit(session: Session, *, email: str | None) -> None:
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        constraint = _violated_constraint(error)
        if constraint == UNIQUE_EMAIL_CONSTRAINT:
            raise EmailAlreadyExistsError(f"A user with email {email} already exists.") from None
        if constraint == UNIQUE_SUBJECT_CONSTRAINT:
            raise IdentityAlreadyRegisteredError("This identity is already registered.") from None
        raise


def _violated_constraint(error: IntegrityError) -> str | None:
    details = error.orig.args[0] if error.orig is not None and error.orig.args else None
    return details.get("n") if isinstance(details, dict) else None

"""Database work on users: plain functions taking a session, raising domain errors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lambda_app.exceptions import EmailAlreadyExistsError, UserNotFoundError
from lambda_app.models.user import User
from lambda_app.utils.user_type_enum import UserType

UNIQUE_EMAIL_CONSTRAINT = "uq_users_email"


def create_user(
    session: Session, *, email: str, full_name: str | None, user_type: UserType
) -> User:
    """Insert a user and commit; raise `EmailAlreadyExistsError` on a taken email."""
    user = User(email=email, full_name=full_name, user_type=user_type)
    session.add(user)
    _commit(session, email=email)
    return user


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
        if _violated_constraint(error) == UNIQUE_EMAIL_CONSTRAINT:
            raise EmailAlreadyExistsError(f"A user with email {email} already exists.") from None
        raise


def _violated_constraint(error: IntegrityError) -> str | None:
    details = error.orig.args[0] if error.orig is not None and error.orig.args else None
    return details.get("n") if isinstance(details, dict) else None

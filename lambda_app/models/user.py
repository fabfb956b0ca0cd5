"""The `users` table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Enum, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from lambda_app.models.base import Base
from lambda_app.utils.user_type_enum import UserType

EMAIL_MAX_LENGTH = 320
FULL_NAME_MAX_LENGTH = 200
SUBJECT_MAX_LENGTH = 255

user_type_enum = Enum(
    UserType,
    name="user_type",
    values_callable=lambda members: [member.value for member in members],
    validate_strings=True,
)


class User(Base):
    """A person known to the service."""

    __tablename__ = "users"
    __table_args__ = (
        # Stored emails are normalised, so the unique constraint is case-insensitive.
        CheckConstraint("email = lower(btrim(email))", name="email_normalized"),
        Index("ix_users_created_at_id", "created_at", "id"),
    )
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - read once by the mapper

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, server_default=text("gen_random_uuid()")
    )
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(FULL_NAME_MAX_LENGTH))
    user_type: Mapped[UserType] = mapped_column(
        user_type_enum, server_default=UserType.CUSTOMER.value
    )
    subject: Mapped[str | None] = mapped_column(String(SUBJECT_MAX_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.clock_timestamp()
    )

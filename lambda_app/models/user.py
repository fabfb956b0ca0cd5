"""The `users` table as a typed ORM class, for tools and scripts (requests use Core)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Mapped

from lambda_app.models.base import Base
from lambda_app.models.tables import users
from lambda_app.utils.user_type_enum import UserType


class User(Base):
    """A person known to the service."""

    __table__ = users

    id: Mapped[uuid.UUID]
    email: Mapped[str]
    full_name: Mapped[str | None]
    user_type: Mapped[UserType]
    subject: Mapped[str | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

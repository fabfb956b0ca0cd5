"""The declarative base of the ORM models, sharing the Core tables' metadata."""

from sqlalchemy.orm import DeclarativeBase

from lambda_app.models.tables import metadata


class Base(DeclarativeBase):
    """Base class of the ORM models."""

    metadata = metadata

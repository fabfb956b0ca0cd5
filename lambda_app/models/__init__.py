"""ORM models; importing this package registers every table on `Base.metadata`."""

from lambda_app.models.base import Base
from lambda_app.models.user import User

__all__ = ["Base", "User"]

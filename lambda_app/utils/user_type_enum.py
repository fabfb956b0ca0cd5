"""The kinds of user the service knows."""

from enum import StrEnum


class UserType(StrEnum):
    """What a user is to the business; stored as the PostgreSQL enum `user_type`."""

    ADMIN = "admin"
    STAFF = "staff"
    CUSTOMER = "customer"

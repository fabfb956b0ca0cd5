"""What each caller may do, by their user_type; one table, checked before any change."""

from __future__ import annotations

import uuid
from enum import Enum

from lambda_app.crud.users import Caller
from lambda_app.exceptions import ForbiddenError, UserNotFoundError
from lambda_app.utils.user_type_enum import UserType


class Action(Enum):
    """Things a caller can ask to do with users."""

    LIST = "list users"
    CREATE = "create users"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"
    SET_USER_TYPE = "set user_type"
    CHANGE_EMAIL = "change emails"


READ_ANY = {UserType.ADMIN, UserType.STAFF}


def authorize(caller: Caller | None, action: Action, *, target_id: uuid.UUID | None = None) -> None:
    """Raise unless `caller` may do `action` (on `target_id`); return quietly otherwise.

    A customer asking about someone else gets 404, so that ids of others are not revealed;
    anyone else who is refused gets 403.
    """
    if caller is None:
        raise ForbiddenError("Register first with POST /users/me.")
    if caller.user_type is UserType.ADMIN:
        return
    if action is Action.LIST and caller.user_type in READ_ANY:
        return
    if action in (Action.LIST, Action.CREATE, Action.SET_USER_TYPE, Action.CHANGE_EMAIL):
        raise ForbiddenError(f"Only an admin may {action.value}.")
    if target_id == caller.id:
        return
    if caller.user_type is UserType.CUSTOMER:
        raise UserNotFoundError(f"No user has id {target_id}.")
    if action is Action.READ and caller.user_type in READ_ANY:
        return
    raise ForbiddenError(f"A {caller.user_type.value} may {action.value} only their own record.")

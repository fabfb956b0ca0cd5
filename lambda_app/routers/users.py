"""HTTP routes for users: the caller's own record, and users by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from lambda_app.crud import users as crud
from lambda_app.crud.users import UserRow
from lambda_app.db import transaction
from lambda_app.dependencies import (
    CallerAndUserDep,
    CallerDep,
    ConnectionDep,
    PrincipalDep,
    UserId,
)
from lambda_app.exceptions import (
    IdentityAlreadyRegisteredError,
    MissingEmailClaimError,
    UserNotFoundError,
)
from lambda_app.external_services import aws
from lambda_app.permissions import Action, authorize
from lambda_app.problems import problem_responses
from lambda_app.schemas.users import Email, UserCreate, UserPage, UserRead, UserUpdate
from lambda_app.utils.user_type_enum import UserType

router = APIRouter(prefix="/users", tags=["users"])

MAX_OFFSET = 2**31 - 1


def _set_location(request: Request, response: Response, user: UserRow) -> None:
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/users/{user.id}"


@router.get(
    "/me",
    response_model=UserRead,
    summary="Read my record",
    responses=problem_responses(401, 404, 503),
)
async def read_me(principal: PrincipalDep, connection: ConnectionDep, request: Request) -> UserRow:
    """Return the caller's own record; 404 until they register."""
    me = crud.find_user_by_subject(connection, subject=principal.subject)
    if me is None:
        raise UserNotFoundError("You are not registered yet: POST /users/me.")
    request.state.user_id = str(me.id)  # for the request log line
    return me


@router.post(
    "/me",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Register myself",
    responses=problem_responses(401, 409, 413, 415, 422, 503),
)
async def register_me(
    principal: PrincipalDep,
    caller: CallerDep,
    connection: ConnectionDep,
    request: Request,
    response: Response,
) -> UserRow:
    """Register the caller as a customer with their token's email."""
    if caller is not None:
        raise IdentityAlreadyRegisteredError("You are already registered: GET /users/me.")
    if principal.email is None:
        raise MissingEmailClaimError("The token has no email claim; sign in with an ID token.")
    user = crud.create_user(
        connection,
        email=principal.email,
        full_name=None,
        user_type=UserType.CUSTOMER,
        subject=principal.subject,
    )
    _set_location(request, response, user)
    return user


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create a user",
    responses=problem_responses(401, 403, 409, 413, 415, 422, 503),
)
async def create_user(
    body: UserCreate,
    caller: CallerDep,
    connection: ConnectionDep,
    request: Request,
    response: Response,
) -> UserRow:
    """Create a user (admins only); the email must not be registered yet, in any letter case."""
    authorize(caller, Action.CREATE)
    user = crud.create_user(
        connection, email=body.email, full_name=body.full_name, user_type=body.user_type
    )
    _set_location(request, response, user)
    return user


@router.get(
    "",
    response_model=UserPage,
    summary="List users",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_users(
    caller: CallerDep,
    connection: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Users to skip.")] = 0,
    user_type: Annotated[UserType | None, Query(description="Only users of this type.")] = None,
    email: Annotated[Email | None, Query(description="Exact email, in any letter case.")] = None,
) -> UserPage:
    """List users ordered by creation time, then id, with the total matching the filters."""
    authorize(caller, Action.LIST)
    users, total = crud.list_users(
        connection, limit=limit, offset=offset, user_type=user_type, email=email
    )
    items = [UserRead.model_validate(user) for user in users]
    return UserPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{user_id}",
    response_model=UserRead,
    summary="Read a user",
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def read_user(user_id: UserId, found: CallerAndUserDep) -> UserRow:
    """Return one user."""
    authorize(found.caller, Action.READ, target_id=user_id)
    return crud.user_or_raise(found.user, user_id)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    summary="Update a user",
    responses=problem_responses(401, 403, 404, 409, 413, 415, 422, 503),
)
async def update_user(
    user_id: UserId, body: UserUpdate, caller: CallerDep, connection: ConnectionDep
) -> UserRow:
    """Change any of email, full name and user type (admins only); `updated_at` advances."""
    changes = body.changes()
    authorize(caller, Action.UPDATE, target_id=user_id)
    if "user_type" in changes:
        authorize(caller, Action.SET_USER_TYPE)
    return crud.update_user(connection, user_id=user_id, changes=changes)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a user and their files",
    responses=problem_responses(401, 403, 404, 422, 502, 503),
)
async def delete_user(user_id: UserId, caller: CallerDep, connection: ConnectionDep) -> None:
    """Delete the user and every file stored for them; if S3 fails, nothing is deleted."""
    authorize(caller, Action.DELETE, target_id=user_id)
    with transaction(connection):
        crud.delete_user(connection, user_id=user_id)  # row locked until the commit
        aws.delete_user_files(user_id)

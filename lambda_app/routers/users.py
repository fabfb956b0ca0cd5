"""HTTP routes for users: create and list them, and read, change or delete one by id."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from lambda_app import outbox, user_changes
from lambda_app.crud import identities
from lambda_app.crud import users as crud
from lambda_app.crud.outbox import Task, TaskKind, owed_task
from lambda_app.crud.users import UserRow
from lambda_app.db import get_engine
from lambda_app.dependencies import (
    AuthenticatedRoute,
    ConnectionDep,
    UserId,
    caller_and_user,
    caller_on,
    deadline_of,
    principal_of,
    released_caller,
)
from lambda_app.exceptions import (
    InvalidPageRequestError,
)
from lambda_app.external_services import aws, cognito
from lambda_app.idempotent_requests import (
    IdempotencyKeyDep,
    keyed_request,
    replace_answer,
    run_once,
)
from lambda_app.permissions import Action, authorize
from lambda_app.preconditions import (
    ETAG_HEADER,
    IF_NONE_MATCH_PARAMETER,
    NOT_MODIFIED,
    IfMatchHeader,
    read_answer,
    versions_in_if_match,
)
from lambda_app.problems import problem_responses
from lambda_app.read_routing import ReadAfterHeader, list_page, parse_read_after
from lambda_app.routers.user_answers import WRITTEN_HEADERS, set_location, written
from lambda_app.schemas.users import (
    Email,
    IdentityState,
    UserCreate,
    UserCreated,
    UserDeletionPending,
    UserPage,
    UserRead,
    UserUpdate,
)
from lambda_app.utils.cursors import MAX_OFFSET, UserKey, decode_cursor, encode_cursor
from lambda_app.utils.user_type_enum import UserType

router = APIRouter(prefix="/users", tags=["users"], route_class=AuthenticatedRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserCreated,
    summary="Create a user",
    responses={
        201: {"headers": WRITTEN_HEADERS},
        **problem_responses(400, 401, 403, 409, 413, 415, 422, 503),
    },
)
async def create_user(
    body: UserCreate, request: Request, response: Response, idempotency_key: IdempotencyKeyDep
) -> UserCreated | Response:
    """Create a user (admins only), and their sign-in identity where the service provisions them.

    The email must not be registered yet, in any letter case. The user and the task that
    provisions their identity are one write; the identity is created after the commit, with
    no connection held (409 when the email's identity is another user's, and then nothing is
    kept), or by retries when Cognito does not answer in time (`identity: pending`).
    """
    deadline = deadline_of(request)
    authorize(released_caller(request), Action.CREATE)
    provisioning = cognito.provisioning_enabled()
    if provisioning:
        cognito.get_cognito_client()  # built now: never while a transaction is open
    owed: list[Task] = []

    def create(connection: Connection) -> UserCreated:
        if not provisioning:
            user = crud.create_user(
                connection, email=body.email, full_name=body.full_name, user_type=body.user_type
            )
            return _created(request, response, user, "unmanaged")
        user, task = identities.create_user_owing_identity(
            connection,
            email=body.email,
            full_name=body.full_name,
            user_type=body.user_type,
            payload={"invite": body.invite},
        )
        owed.append(task)
        return _created(request, response, user, "pending")

    keyed = keyed_request(
        idempotency_key, subject=principal_of(request).subject, request=request, body=body
    )
    engine = get_engine()
    with engine.connect() as connection:
        if keyed is None:
            created = create(connection)
        else:
            answered = run_once(
                connection,
                keyed,
                response=response,
                status_code=status.HTTP_201_CREATED,
                answer=lambda: create(connection),
            )
    if not owed:  # nothing owed to Cognito, or a replay
        return created if keyed is None else answered
    linked = user_changes.provision_identity(engine, owed[0], deadline, keyed)
    if linked is None:
        return created if keyed is None else answered
    final = _created(request, response, linked, "linked")
    if keyed is not None:
        with engine.connect() as connection:
            replace_answer(
                connection,
                keyed,
                response=response,
                status_code=status.HTTP_201_CREATED,
                answer=final,
            )
    return final


def _created(
    request: Request, response: Response, user: UserRow, identity: IdentityState
) -> UserCreated:
    set_location(request, response, written(user, response))
    return UserCreated.model_validate({**user._mapping, "identity": identity})


@router.get(
    "",
    response_model=UserPage,
    summary="List users",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_users(
    request: Request,
    connection: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
    ] = None,
    offset: Annotated[
        int, Query(ge=0, description=f"Users to skip, at most {MAX_OFFSET}; then use `cursor`.")
    ] = 0,
    user_type: Annotated[UserType | None, Query(description="Only users of this type.")] = None,
    email: Annotated[Email | None, Query(description="Exact email, in any letter case.")] = None,
    read_after: ReadAfterHeader = None,
) -> UserPage:
    """List users ordered by creation time, then id, with the total matching the filters."""
    authorize(caller_on(connection, request), Action.LIST)
    after = page_start(cursor, offset)
    # One user more than the page tells whether there is a next page.
    users, total = list_page(
        connection,
        read_after=parse_read_after(read_after),
        limit=limit + 1,
        offset=offset,
        after=after,
        user_type=user_type,
        email=email,
    )
    page = users[:limit]
    last = page[-1] if len(users) > limit else None
    return UserPage(
        items=[UserRead.model_validate(user) for user in page],
        total=total,
        limit=limit,
        offset=offset,
        next_cursor=encode_cursor(last.created_at, last.id) if last is not None else None,
    )


def page_start(cursor: str | None, offset: int) -> UserKey | None:
    """Where a page starts: after the cursor's user, or at `offset` (capped)."""
    if cursor is not None and offset:
        raise InvalidPageRequestError("Send either `cursor` or `offset`, not both.")
    if offset > MAX_OFFSET:
        raise InvalidPageRequestError(
            f"`offset` goes up to {MAX_OFFSET}; page further with `cursor` (a page's next_cursor)."
        )
    return decode_cursor(cursor) if cursor is not None else None


@router.get(
    "/{user_id}",
    response_model=UserRead,
    summary="Read a user",
    responses={
        200: {"headers": ETAG_HEADER},
        **NOT_MODIFIED,
        **problem_responses(401, 403, 404, 422, 503),
    },
    openapi_extra={"parameters": [IF_NONE_MATCH_PARAMETER]},
)
async def read_user(user_id: UserId, request: Request, response: Response) -> UserRow | Response:
    """Return one user."""
    found = caller_and_user(request, user_id)
    authorize(found.caller, Action.READ, target_id=user_id)
    user = crud.user_or_raise(found.user, user_id)
    return read_answer(user, request.headers.get("if-none-match"), response)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    summary="Update a user",
    responses={
        200: {"headers": ETAG_HEADER},
        **problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 503),
    },
)
async def update_user(
    user_id: UserId,
    body: UserUpdate,
    request: Request,
    response: Response,
    if_match: IfMatchHeader = None,
) -> UserRow:
    """Change email, full name or user type (admins); others only their own full name.

    A new email is given to the user's identity too, after the commit (retried on failure).
    """
    deadline = deadline_of(request)
    changes = body.changes()
    caller = released_caller(request)
    authorize(caller, Action.UPDATE, target_id=user_id)
    if "user_type" in changes:
        authorize(caller, Action.SET_USER_TYPE)
    if "email" in changes:
        authorize(caller, Action.CHANGE_EMAIL)
    versions = versions_in_if_match(if_match, user_id)
    owes = None
    if "email" in changes and cognito.provisioning_enabled():
        owes = TaskKind.SYNC_IDENTITY_EMAIL
        cognito.get_cognito_client()  # built now: never while a transaction is open
    engine = get_engine()
    with engine.connect() as connection:
        user = user_changes.update_user(
            connection, user_id=user_id, changes=changes, versions=versions, owes=owes
        )
    task = owed_task(user) if owes is not None else None
    if task is not None:
        outbox.run(engine, task, deadline)  # on failure the drain retries it
    return written(user, response)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    summary="Delete a user, their files and their identity",
    responses={
        204: {
            "description": "The user, every version of their files and their identity are deleted"
        },
        202: {
            "model": UserDeletionPending,
            "description": "The user is deleted; their files or identity are deleted by retries",
        },
        **problem_responses(400, 401, 403, 404, 409, 412, 422, 503),
    },
)
async def delete_user(
    user_id: UserId, request: Request, if_match: IfMatchHeader = None
) -> Response:
    """Delete the user; 204 once their files and identity are gone too, 202 while retried."""
    # The user and the tasks that delete their files and identity go in one short write; they
    # run after the commit, holding no connection, and on failure by the outbox drain.
    deadline = deadline_of(request)
    found = caller_and_user(request, user_id)
    authorize(found.caller, Action.DELETE, target_id=user_id)
    crud.user_or_raise(found.user, user_id)
    versions = versions_in_if_match(if_match, user_id)
    identity = cognito.provisioning_enabled()
    # Built now: never while a transaction is open.
    aws.get_s3_client()
    if identity:
        cognito.get_cognito_client()
    engine = get_engine()
    with engine.connect() as connection:
        tasks = user_changes.delete_owing_tasks(
            connection, user_id=user_id, versions=versions, identity=identity
        )
    done = user_changes.run_deletion_tasks(engine, tasks, deadline)
    if all(done.values()):
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    pending = UserDeletionPending(
        id=user_id,
        files=_state(done.get(TaskKind.DELETE_USER_FILES, True)),
        identity=_state(done[TaskKind.REMOVE_IDENTITY]) if identity else None,
    )
    body = pending.model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED)


def _state(done: bool) -> Literal["pending", "deleted"]:
    return "deleted" if done else "pending"

"""What routes ask for: a database connection, the caller, typed path parameters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy import Connection

from lambda_app.auth import Principal, principal_from_bearer, principal_from_lambda_event
from lambda_app.config import get_settings
from lambda_app.crud import users as crud
from lambda_app.crud.users import Caller, CallerAndUser
from lambda_app.db import get_engine
from lambda_app.deadline import Deadline, request_deadline
from lambda_app.middleware.request_log import log_user

# How callers authenticate, as OpenAPI describes it (Swagger UI's "Authorize" button).
BEARER_SCHEME_NAME = "HTTPBearer"
BEARER_SCHEME: dict[str, Any] = {
    "type": "http",
    "description": "A JWT from the user pool (an ID token carries the email).",
    "scheme": "bearer",
}


async def get_connection() -> AsyncIterator[Connection]:
    """Yield the request's database connection, in autocommit, held until the answer is out.

    Most requests are one statement at a time: no BEGIN and no ROLLBACK round trips. A route
    that needs several statements to succeed together wraps them in `db.transaction()`; one
    whose work is a single statement takes a connection just for it instead.
    Routes and dependencies are `async def` and call the (blocking) database directly: a
    Lambda container serves one request at a time, so a hop to a worker thread buys
    nothing, and without thread hops a request never holds a pooled connection while
    waiting for a thread (which deadlocks under load until the pool timeout).
    """
    with get_engine().connect() as connection:
        yield connection


async def get_principal(request: Request) -> Principal:
    """Return the caller: API Gateway's verified claims on Lambda, else the bearer token."""
    event = request.scope.get("aws.event")
    if event is not None:
        # On Lambda only API Gateway's verified claims count, never a header it passed along.
        return principal_from_lambda_event(event)
    return principal_from_bearer(request.headers.get("authorization"), get_settings())


ConnectionDep = Annotated[Connection, Depends(get_connection)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


UserId = Annotated[uuid.UUID, Path(description="The user's id")]


async def get_caller(
    principal: PrincipalDep, connection: ConnectionDep, request: Request
) -> Caller | None:
    """Return the caller's user record, or None when they have not registered."""
    caller = crud.find_caller(connection, subject=principal.subject)
    _log_caller(request, caller)
    return caller


async def get_released_caller(principal: PrincipalDep, request: Request) -> Caller | None:
    """Return the caller's user record, read on a connection given back at once: for routes
    that call another service and so must hold no connection while it works."""
    with get_engine().connect() as connection:
        caller = crud.find_caller(connection, subject=principal.subject)
    _log_caller(request, caller)
    return caller


async def get_caller_and_user(
    user_id: UserId, principal: PrincipalDep, request: Request
) -> CallerAndUser:
    """Return the caller and the user in the path, read together in one statement.

    The statement gets a connection of its own, given back at once: the route holds none
    while its answer is built and sent, and the request skips the cost of a connection
    dependency, which FastAPI keeps open until the response is out.
    """
    with get_engine().connect() as connection:
        found = crud.find_caller_and_user(connection, subject=principal.subject, user_id=user_id)
    _log_caller(request, found.caller)
    return found


def _log_caller(request: Request, caller: Caller | None) -> None:
    if caller is not None:
        log_user(request.scope, str(caller.id))


CallerDep = Annotated[Caller | None, Depends(get_caller)]
ReleasedCallerDep = Annotated[Caller | None, Depends(get_released_caller)]
# A route that takes both lists this one before its ConnectionDep: with a pool of one (the
# Lambda default), it would otherwise wait for the connection that ConnectionDep holds.
CallerAndUserDep = Annotated[CallerAndUser, Depends(get_caller_and_user)]


async def get_deadline(request: Request) -> Deadline:
    """When calls to other services must give up: the Lambda invocation's and API Gateway's
    time left, less a reserve to answer."""
    return request_deadline(request.scope)


DeadlineDep = Annotated[Deadline, Depends(get_deadline)]

"""What routes ask for: a database connection, the caller, typed path parameters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute
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


# Where an authenticated route keeps its caller's principal in the request's scope.
PRINCIPAL = "lambda_app.principal"


def authenticate(request: Request) -> Principal:
    """Return the caller: API Gateway's verified claims on Lambda, else the bearer token."""
    event = request.scope.get("aws.event")
    if event is not None:
        # On Lambda only API Gateway's verified claims count, never a header it passed along.
        return principal_from_lambda_event(event)
    return principal_from_bearer(request.headers.get("authorization"), get_settings())


class AuthenticatedRoute(APIRoute):
    """A route that authenticates its caller before FastAPI reads a parameter: 401 comes first.

    The principal then waits in the request's scope, and the route reads it and the caller
    with the plain calls below rather than with dependencies: each dependency FastAPI
    resolves cost a request 30 to 60 us here (`python -m bench.parts`), some 3 to 8% of
    the bare stack's whole `GET /users/{id}`.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler of the route, behind the caller's authentication."""
        handle = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            request.scope[PRINCIPAL] = authenticate(request)
            return await handle(request)

        return authenticated


def principal_of(request: Request) -> Principal:
    """The caller's principal, found by the request's `AuthenticatedRoute`."""
    principal: Principal = request.scope[PRINCIPAL]
    return principal


ConnectionDep = Annotated[Connection, Depends(get_connection)]
UserId = Annotated[uuid.UUID, Path(description="The user's id")]


def caller_on(connection: Connection, request: Request) -> Caller | None:
    """The caller's user record, or None when they have not registered; read on `connection`."""
    caller = crud.find_caller(connection, subject=principal_of(request).subject)
    _log_caller(request, caller)
    return caller


def released_caller(request: Request) -> Caller | None:
    """The caller's user record, read on a connection given back at once: for routes that
    call another service and so must hold no connection while it works."""
    with get_engine().connect() as connection:
        return caller_on(connection, request)


def caller_and_user(request: Request, user_id: uuid.UUID) -> CallerAndUser:
    """The caller and the user in the path, read together in one statement.

    The statement gets a connection of its own, given back at once: the route holds none
    while its answer is built and sent.
    """
    with get_engine().connect() as connection:
        found = crud.find_caller_and_user(
            connection, subject=principal_of(request).subject, user_id=user_id
        )
    _log_caller(request, found.caller)
    return found


def _log_caller(request: Request, caller: Caller | None) -> None:
    if caller is not None:
        log_user(request.scope, str(caller.id))


def deadline_of(request: Request) -> Deadline:
    """When calls to other services must give up: the Lambda invocation's and API Gateway's
    time left, less a reserve to answer."""
    return request_deadline(request.scope)

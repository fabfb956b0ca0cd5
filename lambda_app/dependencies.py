"""What routes ask for: a database session, the caller, typed path parameters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from lambda_app.auth import Principal, principal_from_bearer, principal_from_lambda_event
from lambda_app.config import get_settings
from lambda_app.crud import users as crud
from lambda_app.db import get_engine
from lambda_app.models.user import User

# Declares the scheme in OpenAPI (Swagger UI's "Authorize"); the header is verified below.
bearer_scheme = HTTPBearer(
    auto_error=False, description="A JWT from the user pool (an ID token carries the email)."
)


async def get_session() -> AsyncIterator[Session]:
    """Yield a session for one request; whatever it did not commit is rolled back.

    Routes and dependencies are `async def` that call the (blocking) database directly:
    on Lambda a container serves one request at a time, so a hop to a worker thread buys
    nothing and costs time; and with no thread hops a request never holds a pooled
    connection while waiting for a worker thread, which under load deadlocks until the
    pool timeout.
    """
    with Session(get_engine(), expire_on_commit=False, autoflush=False) as session:
        yield session


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """Return the caller: API Gateway's verified claims on Lambda, else the bearer token."""
    event = request.scope.get("aws.event")
    if event is not None:
        # On Lambda only API Gateway's verified claims count, never a header it passed along.
        return principal_from_lambda_event(event)
    return principal_from_bearer(request.headers.get("authorization"), get_settings())


SessionDep = Annotated[Session, Depends(get_session)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_caller(principal: PrincipalDep, session: SessionDep, request: Request) -> User | None:
    """Return the caller's user record, or None when they have not registered."""
    caller = crud.find_user_by_subject(session, subject=principal.subject)
    if caller is not None:
        request.state.user_id = str(caller.id)  # for the request log line
    return caller


CallerDep = Annotated[User | None, Depends(get_caller)]
UserId = Annotated[uuid.UUID, Path(description="The user's id")]

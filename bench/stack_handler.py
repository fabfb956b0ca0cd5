"""The stack's floor: what FastAPI under Mangum and SQLAlchemy cost on their own.

`GET /users/{id}` only, answered like the floor: its statement, through SQLAlchemy on the
app's engine (one exchange per statement), behind FastAPI's routing, path and response
validation under Mangum. None of the app's own work: no middleware, request log, metrics,
ETag or problem responses. The app minus this is what the app's features cost; this minus
the floor is what the stack the project is built on costs.

`bare_handler` is the stack at its least: the same route with no dependency and no response
model (the JSON written by hand, as the floor does), so only routing, the path's UUID check,
Mangum and SQLAlchemy's execution remain: no app on this stack does less for this route.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from mangum import Mangum
from sqlalchemy import text

from bench.floor_handler import READ_USER
from bench.raw_handler import USER_FIELDS, ProblemError, _response, _subject, _user
from lambda_app.db import get_engine
from lambda_app.schemas.users import UserRead

_READ_USER = text(READ_USER)

app = FastAPI(title="Stack floor", docs_url=None, redoc_url=None, openapi_url=None)


async def subject(request: Request) -> str:
    """The caller's subject from API Gateway's verified claims, as the floors read it."""
    try:
        return _subject(request.scope["aws.event"])
    except ProblemError as problem:
        raise HTTPException(problem.status, problem.detail) from None


@app.get("/users/{user_id}", response_model=UserRead)
async def read_user(user_id: uuid.UUID, caller: Annotated[str, Depends(subject)]) -> Any:
    """The user, if the caller may read it: the floor's one statement, permissions in SQL."""
    return dict(zip(USER_FIELDS, _user_columns(user_id, caller), strict=True))


def _user_columns(user_id: uuid.UUID, caller: str) -> Any:
    """The user's columns from the floor's statement, or the refusal the floor answers."""
    with get_engine().connect() as connection:
        rows = connection.execute(_READ_USER, {"id": user_id, "s": caller}).all()
    if not rows:
        raise HTTPException(403, "Register first with POST /users/me.")
    if rows[0][1] is None:
        raise HTTPException(404, f"No user has id {user_id}.")
    return rows[0][1:]


handler = Mangum(app, lifespan="off")

bare_app = FastAPI(title="Bare stack", docs_url=None, redoc_url=None, openapi_url=None)


@bare_app.get("/users/{user_id}")
async def read_user_bare(user_id: uuid.UUID, request: Request) -> Response:
    """The same answer with no dependency to resolve and no response model to validate."""
    caller = await subject(request)
    answer = _response(200, _user(_user_columns(user_id, caller)))
    return Response(answer["body"], media_type=answer["headers"]["content-type"])


bare_handler = Mangum(bare_app, lifespan="off")

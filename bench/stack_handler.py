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

from fastapi import Depends, FastAPI, Request, Response
from mangum import Mangum

from bench.raw_handler import USER_FIELDS, _response, _user
from bench.stack_answers import read_user_columns, subject
from lambda_app.db import get_engine
from lambda_app.schemas.users import UserRead

app = FastAPI(title="Stack floor", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/users/{user_id}", response_model=UserRead)
async def read_user(user_id: uuid.UUID, caller: Annotated[str, Depends(subject)]) -> Any:
    """The user, if the caller may read it: the floor's one statement, permissions in SQL."""
    return dict(zip(USER_FIELDS, read_user_columns(get_engine(), user_id, caller), strict=True))


handler = Mangum(app, lifespan="off")

bare_app = FastAPI(title="Bare stack", docs_url=None, redoc_url=None, openapi_url=None)


@bare_app.get("/users/{user_id}")
async def read_user_bare(user_id: uuid.UUID, request: Request) -> Response:
    """The same answer with no dependency to resolve and no response model to validate."""
    caller = await subject(request)
    answer = _response(200, _user(read_user_columns(get_engine(), user_id, caller)))
    return Response(answer["body"], media_type=answer["headers"]["content-type"])


bare_handler = Mangum(bare_app, lifespan="off")

"""The bare stack as a cold start: FastAPI under Mangum, and SQLAlchemy on pg8000.

What every app of this design pays before its own code runs: the empty FastAPI app's one
route, answered with the floor's one statement through a stock SQLAlchemy engine (pg8000, no
pool, TLS off as in the app's plain-URL row), the JSON written by hand. No setting, table,
schema, middleware or log line of the app; only the app's init pattern, no garbage
collection while init builds its objects (lambda_app/handler.py). `bench.cold_start` times
it beside the app and the empty FastAPI app: each run shows how much of the cold-start
target the stack itself takes.
"""

from __future__ import annotations

import gc

gc.disable()

import os  # noqa: E402 - after gc.disable on purpose, as in lambda_app/handler.py
import uuid  # noqa: E402
from typing import Any  # noqa: E402

from fastapi import FastAPI, Request, Response  # noqa: E402
from mangum import Mangum  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bench.raw_handler import _response, _user  # noqa: E402
from bench.stack_answers import read_user_columns, subject  # noqa: E402

# The bench's URLs may say `postgresql://`; the stack is measured on the app's driver.
_engine = create_engine(
    make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+pg8000"),
    connect_args={"ssl_context": False},  # pg8000 would otherwise try TLS first
    poolclass=NullPool,
)

app = FastAPI(title="Bare stack", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/users/{user_id}")
async def read_user(user_id: uuid.UUID, request: Request) -> Response:
    """The user, if the caller may read it: the floor's statement, permissions in SQL."""
    caller = await subject(request)
    answer: dict[str, Any] = _response(200, _user(read_user_columns(_engine, user_id, caller)))
    return Response(answer["body"], media_type=answer["headers"]["content-type"])


handler = Mangum(app, lifespan="off")
gc.freeze()
gc.enable()

"""What the stack floors share: the caller's subject, and the floor's statement answered."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import HTTPException, Request
from sqlalchemy import Engine, text

from bench.floor_handler import READ_USER
from bench.raw_handler import ProblemError, _subject

# The caller's type, then the user's columns if the caller may read them (else nulls).
READ_USER_STATEMENT = text(READ_USER)


async def subject(request: Request) -> str:
    """The caller's subject from API Gateway's verified claims, as the floors read it."""
    try:
        return _subject(request.scope["aws.event"])
    except ProblemError as problem:
        raise HTTPException(problem.status, problem.detail) from None


def read_user_columns(engine: Engine, user_id: uuid.UUID, caller: str) -> Any:
    """The user's columns from the floor's statement on `engine`, or the refusal the floor
    answers."""
    with engine.connect() as connection:
        rows = connection.execute(READ_USER_STATEMENT, {"id": user_id, "s": caller}).all()
    if not rows:
        raise HTTPException(403, "Register first with POST /users/me.")
    if rows[0][1] is None:
        raise HTTPException(404, f"No user has id {user_id}.")
    return rows[0][1:]

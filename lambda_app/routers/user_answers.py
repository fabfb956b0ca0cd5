"""What a route that writes a user answers with, besides the user: its ETag and Location."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from lambda_app.crud.users import UserRow
from lambda_app.idempotent_requests import REPLAY_HEADERS
from lambda_app.preconditions import ETAG, ETAG_HEADER, etag_of

# A write's answer: the user's new ETag, and on a retry the saved answer, marked.
WRITTEN_HEADERS: dict[str, Any] = {**ETAG_HEADER, **REPLAY_HEADERS}


def set_location(request: Request, response: Response, user: UserRow) -> None:
    """Point `Location` at the user, under the root path (a named stage) the app serves at."""
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/users/{user.id}"


def written(user: UserRow, response: Response) -> UserRow:
    """Return `user`, its ETag set on the response."""
    response.headers[ETAG] = etag_of(user)
    return user

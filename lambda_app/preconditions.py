"""ETags of users and the conditional headers that use them (RFC 9110, section 13.1).

A user's ETag is strong and derived from its row version (`users.version`, raised by the
database on every UPDATE), never from the serialized body: it changes whenever any field
does, and costs nothing to compute. The id is part of it, so `/users/me` of a re-registered
caller never matches the ETag of the account they had before.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import Header, Response, status

from lambda_app.crud.users import UserRow, Versions
from lambda_app.exceptions import TooManyEntityTagsError

ETAG = "ETag"
# Digits of a bigint at most: anything longer is not a version this API gave out.
_VERSION_DIGITS = 18
# A client holds one ETag per user, or a few after retries; each version is one parameter
# of the statement that checks it, so the list stays short.
MAX_ENTITY_TAGS = 32

IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description=(
            "Change only if the user is still at this ETag (from a read or a write); "
            "412 when it is not. `*` matches any version."
        ),
    ),
]
_IF_NONE_MATCH_DESCRIPTION = "ETags the client holds: 304 with no body while one is current."
# Documented here and read from the request by the routes: a declared header parameter
# costs each request a validation step, and on a route without other parameters it would
# make FastAPI document a 422 that a string header can never cause.
IF_NONE_MATCH_PARAMETER: dict[str, Any] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": _IF_NONE_MATCH_DESCRIPTION,
    "schema": {"type": "string", "description": _IF_NONE_MATCH_DESCRIPTION},
}
ETAG_HEADER: dict[str, Any] = {
    ETAG: {
        "description": "The user's version; send it back in If-Match or If-None-Match.",
        "schema": {"type": "string"},
    }
}


def etag_of(user: UserRow) -> str:
    """The user's strong ETag: its id and row version."""
    return f'"{user.id.hex}-{user.version}"'


def _entity_tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def versions_in_if_match(if_match: str | None, user_id: uuid.UUID) -> Versions:
    """The versions of `user_id` that If-Match accepts; None when any will do (absent, `*`).

    Strong comparison: weak tags, tags of other users and malformed tags match nothing.
    """
    if if_match is None or if_match.strip() == "*":
        return None
    tags = set(_entity_tags(if_match))
    if len(tags) > MAX_ENTITY_TAGS:
        raise TooManyEntityTagsError(
            f"If-Match names {len(tags)} entity tags; send at most {MAX_ENTITY_TAGS}."
        )
    pattern = re.compile(rf'"{user_id.hex}-(\d{{1,{_VERSION_DIGITS}}})"')
    return sorted(
        {int(found.group(1)) for tag in tags if (found := pattern.fullmatch(tag)) is not None}
    )


def none_match_fails(if_none_match: str | None, etag: str) -> bool:
    """Tell whether If-None-Match holds `*` or `etag` (weak comparison): the client is current."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.removeprefix("W/") == etag for tag in _entity_tags(if_none_match))


def read_answer(user: UserRow, if_none_match: str | None, response: Response) -> UserRow | Response:
    """The user with its ETag, or 304 with no body when the client's copy is current."""
    etag = etag_of(user)
    if none_match_fails(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={ETAG: etag})
    response.headers[ETAG] = etag
    return user


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "Not Modified: If-None-Match holds the current ETag.",
        "headers": ETAG_HEADER,
    }
}

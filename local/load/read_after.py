"""Read-After as a client following docs/api.md sends it, and what a page showed of the write.

After its create or update (a 2xx with an ETag) a caller sends that ETag as `Read-After`
with its list pages; after its delete, none until its next write. A page may then come
from the replica, and must still show the named user at that version or a later one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from local.load.fleet import ApiAnswer
from local.load.tally import NamedWrite, PageAfterWrite

READ_AFTER = "Read-After"
# How the load counts a list page the app logged no server for.
WITHOUT_READ_AFTER = "writer (no Read-After)"
WITHOUT_READER = "writer (no reader)"


def named_write(answer: ApiAnswer) -> NamedWrite | None:
    """The write a 2xx create or update answered, as Read-After will name it; else None."""
    etag = answer.headers.get("etag")
    user_id, email = answer.field("id"), answer.field("email")
    created_at, updated_at = answer.field("created_at"), answer.field("updated_at")
    if answer.status >= 300 or None in (etag, user_id, email, created_at, updated_at):
        return None
    return NamedWrite(
        etag=str(etag),
        user_id=str(user_id),
        email=str(email),
        created_at=datetime.fromisoformat(created_at),
        updated_at=datetime.fromisoformat(updated_at),
    )


def page_after_write(
    named: NamedWrite, query: Mapping[str, str], answer: ApiAnswer, answered_at: float
) -> PageAfterWrite:
    """What a 200 list page sent with Read-After showed of the user it named.

    `updated_at` stands for the version: each write sets it to the server's clock when it
    writes the row, under the row's lock, so a later version has a later time.
    """
    items: list[dict[str, Any]] = answer.field("items") or []
    mine = [item for item in items if item["id"] == named.user_id]
    shown = datetime.fromisoformat(mine[0]["updated_at"]) if mine else None
    return PageAfterWrite(
        named=named,
        must_show=_must_show(named, query, items, last_page=answer.field("next_cursor") is None),
        shown_updated_at=shown,
        answered_at=answered_at,
        read_from=answer.read_from,
    )


def page_source(answer: ApiAnswer, sent_read_after: bool) -> str:
    """Which server answered a list page, as the report counts it."""
    if answer.read_from is not None:
        return answer.read_from
    return WITHOUT_READER if sent_read_after else WITHOUT_READ_AFTER


def _must_show(
    named: NamedWrite, query: Mapping[str, str], items: Sequence[dict[str, Any]], *, last_page: bool
) -> bool:
    """Whether the page holds the named user, if it still exists.

    A page by its email must; a page of one type may not (the type may have changed since);
    another holds it when its key falls inside the page's range of (created_at, id) keys
    (from the start for the first page, to the end for the last).
    """
    if "email" in query:
        return query["email"] == named.email
    if "user_type" in query or not items:
        return False
    key = (named.created_at, uuid.UUID(named.user_id))
    from_the_start = int(query.get("offset", "0")) == 0
    return (from_the_start or _key(items[0]) <= key) and (key <= _key(items[-1]) or last_page)


def _key(item: Mapping[str, Any]) -> tuple[datetime, uuid.UUID]:
    """A user's place in the list's order: created_at, then id."""
    return datetime.fromisoformat(item["created_at"]), uuid.UUID(item["id"])

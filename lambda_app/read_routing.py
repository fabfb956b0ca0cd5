"""Which server answers a list page: the read replica when it is safe, else the writer.

The guarantee: a caller never sees its own write go backwards. A page goes to the replica
(DB_READER_HOST) only when the request names the write it must show, `Read-After: <ETag>`
(the ETag of the caller's latest create or update), and the page statement finds that
user at that version or later on the replica; the replica applies the writer's commits in
order, so every write acknowledged before that one is there too. Otherwise the writer
answers: no header, a replica that is behind (a third round trip), or one that fails (it
is then left alone for READER_RETRY_SECONDS). Reads of one user, the caller lookup, the
row an If-Match is checked against and idempotent replays always use the writer.
Each page that could have gone to the replica logs which server answered it (READ_FROM).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from lambda_app.crud import users as crud
from lambda_app.crud.users import UserRow, UserVersion
from lambda_app.db import get_reader_engine, is_dead_connection
from lambda_app.exceptions import InvalidPageRequestError

logger = logging.getLogger(__name__)

READ_AFTER_HEADER = "Read-After"
# The log field naming the server that answered a page sent with Read-After ("replica" or
# "writer"); when the writer, REPLICA_STATE says why: "behind", "failed" or "skipped".
READ_FROM = "read_from"
REPLICA_STATE = "replica"
# A replica that failed is not asked again for this long: requests go straight to the writer
# instead of each waiting for a connect timeout.
READER_RETRY_SECONDS = 30.0
# The ETag the API gives out: "<user id as 32 hex digits>-<row version>".
_ETAG = re.compile(r'^"?([0-9a-f]{32})-([1-9][0-9]{0,18})"?$')

ReadAfterHeader = Annotated[
    str | None,
    Header(
        alias=READ_AFTER_HEADER,
        max_length=60,
        description="The ETag of your latest create or update: the page may then come from a "
        "read replica, and still shows that write and every one before it. Without it, the "
        "writer answers.",
    ),
]


class _ReaderHealth:
    """When this container may ask the replica again after it failed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_until = 0.0

    def usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self) -> None:
        with self._lock:
            self._down_until = time.monotonic() + READER_RETRY_SECONDS

    def reset(self) -> None:
        with self._lock:
            self._down_until = 0.0


reader_health = _ReaderHealth()


def parse_read_after(value: str | None) -> UserVersion | None:
    """The write a `Read-After` header names, or None without one; 422 when malformed."""
    if value is None:
        return None
    match = _ETAG.match(value.strip())
    if match is None:
        raise InvalidPageRequestError(
            f"`{READ_AFTER_HEADER}` must be an ETag this API gave out, such as the ETag of "
            "your latest create or update."
        )
    return uuid.UUID(match[1]), int(match[2])


def list_page(
    writer: Connection, *, read_after: UserVersion | None, **page: Any
) -> tuple[Sequence[UserRow], int]:
    """One page of users, from the replica when it already shows `read_after`, else the writer."""
    reader = get_reader_engine() if read_after is not None else None
    if read_after is None or reader is None:
        return crud.list_users(writer, **page)
    state = "skipped"
    if reader_health.usable():
        try:
            with reader.connect() as connection:
                found = crud.list_users_if_fresh(connection, read_after=read_after, **page)
        except DBAPIError as error:
            # Whatever the replica did (down, a query cancelled by recovery), the writer answers.
            if is_dead_connection(error):
                reader_health.failed()
            logger.warning("The read replica failed a list page; the writer answers: %s", error)
            state = "failed"
        else:
            if found is not None:
                logger.info("List page from the replica", extra={READ_FROM: "replica"})
                return found
            state = "behind"
    logger.info(
        "List page from the writer (replica %s)",
        state,
        extra={READ_FROM: "writer", REPLICA_STATE: state},
    )
    return crud.list_users(writer, **page)

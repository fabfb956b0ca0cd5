"""Opaque page cursors: the (created_at, id) of the last user on a page, in base64url."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from lambda_app.exceptions import InvalidPageRequestError

UserKey = tuple[datetime, uuid.UUID]
# Deep offsets scan every skipped row; beyond this, pages are walked with cursors.
MAX_OFFSET = 10_000


def encode_cursor(created_at: datetime, user_id: uuid.UUID) -> str:
    """Return the cursor of the page that starts after this user."""
    raw = json.dumps([created_at.isoformat(), str(user_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> UserKey:
    """Return the key a cursor holds, or raise `InvalidPageRequestError`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, user_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key = (datetime.fromisoformat(created_at), uuid.UUID(user_id))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidPageRequestError("`cursor` is not a cursor this API gave out.") from None
    if key[0].tzinfo is None:
        raise InvalidPageRequestError("`cursor` is not a cursor this API gave out.")
    return key

"""The Idempotency-Key header (IETF httpapi draft): a retried POST answers as the first did.

The key is scoped to the caller's identity (the token's subject); its first successful
answer is saved in the transaction of the change, and replayed for 24 hours with
`Idempotent-Replayed: true`. Failed attempts save nothing: their retry runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Connection

from lambda_app.crud import idempotency as crud
from lambda_app.crud.idempotency import StoredResponse
from lambda_app.db import transaction
from lambda_app.exceptions import IdempotencyKeyReusedError, InvalidIdempotencyKeyError
from lambda_app.models.tables import IDEMPOTENCY_KEY_MAX_LENGTH

REPLAYED = "Idempotent-Replayed"
# What a replay repeats besides the status and body.
REPLAYED_HEADERS = ("Location", "ETag")
_PRINTABLE = frozenset(chr(code) for code in range(0x20, 0x7F))


async def idempotency_key(
    value: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description=(
                "A unique value per operation (a UUID, say), at most "
                f"{IDEMPOTENCY_KEY_MAX_LENGTH} printable characters: a retry with the same key "
                "and body gets the first answer again, marked `Idempotent-Replayed: true`, "
                "for 24 hours. 409 while the first is in progress, 422 for another body."
            ),
            json_schema_extra={"maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
        ),
    ] = None,
) -> str | None:
    """The request's Idempotency-Key, bare or as a quoted structured-field string; 400 if bad."""
    if value is None:
        return None
    key = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not set(key) <= _PRINTABLE:
        raise InvalidIdempotencyKeyError(
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters."
        )
    return key


IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]
REPLAY_HEADERS: dict[str, Any] = {
    REPLAYED: {
        "description": "`true` when this is the saved answer to an earlier request with the key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


class KeyedRequest(NamedTuple):
    """A request that carried an Idempotency-Key: whose key, and what it asked."""

    subject: str
    key: str
    fingerprint: str


def keyed_request(
    key: str | None, *, subject: str, request: Request, body: BaseModel | None
) -> KeyedRequest | None:
    """The key, its caller and the request's fingerprint; None without a key."""
    if key is None:
        return None
    # The validated body, not its bytes: spacing, key order or defaults left out are the same.
    content = body.model_dump(mode="json") if body is not None else None
    asked = json.dumps([request.method, request.url.path, content], sort_keys=True)
    return KeyedRequest(
        subject=subject, key=key, fingerprint=hashlib.sha256(asked.encode()).hexdigest()
    )


def run_once(
    connection: Connection,
    keyed: KeyedRequest,
    *,
    response: Response,
    status_code: int,
    answer: Callable[[], BaseModel],
) -> Response:
    """Run `answer` and save what it returns under the key, or replay the saved answer.

    `answer` sets its headers (and a status other than `status_code`) on `response`, as a
    route does; its changes and the saved answer commit together, or neither does.
    """
    with transaction(connection):
        claim = crud.claim(connection, subject=keyed.subject, key=keyed.key)
        if claim.stored is not None:
            if claim.fingerprint != keyed.fingerprint:
                raise IdempotencyKeyReusedError(
                    "This Idempotency-Key was used for a different request; use a new key."
                )
            return _replay(claim.stored, replayed=True)
        stored = _stored(answer(), response, status_code)
        crud.save(
            connection,
            subject=keyed.subject,
            key=keyed.key,
            fingerprint=keyed.fingerprint,
            response=stored,
        )
    return _replay(stored, replayed=False)


def replace_answer(
    connection: Connection,
    keyed: KeyedRequest,
    *,
    response: Response,
    status_code: int,
    answer: BaseModel,
) -> None:
    """Save `answer` (with `response`'s headers) as the key's answer instead of the one
    `run_once` saved: for a request that finished more work after its commit."""
    stored = _stored(answer, response, status_code)
    crud.replace(connection, subject=keyed.subject, key=keyed.key, response=stored)


def _stored(answer: BaseModel, response: Response, status_code: int) -> StoredResponse:
    headers = {
        name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
    }
    return StoredResponse(
        status_code=response.status_code or status_code,
        body=answer.model_dump(mode="json"),
        headers=headers,
    )


def _replay(stored: StoredResponse, *, replayed: bool) -> JSONResponse:
    headers = {**stored.headers, **({REPLAYED: "true"} if replayed else {})}
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)

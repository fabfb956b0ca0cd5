"""Idempotency keys: a caller's first answer to a key, kept 24 hours, saved with the change.

Both functions run in the caller's transaction (`db.transaction()`): the answer is saved in
the same commit as the change it describes, so a crash leaves both or neither. Nothing here
is session state: the lock is transaction-scoped, which a transaction-mode pooler allows.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Connection,
    Interval,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from lambda_app.crud import statement
from lambda_app.exceptions import IdempotencyKeyInFlightError
from lambda_app.models.tables import idempotency_keys as keys

KEY_LIFETIME = timedelta(hours=24)
# Expired keys removed by each saved key: more than one, so purging outpaces new keys.
PURGE_BATCH = 20

_SUBJECT = bindparam("subject", type_=keys.c.subject.type)
_KEY = bindparam("idempotency_key", type_=keys.c.idempotency_key.type)
_EXPIRED_BEFORE = func.now() - bindparam("lifetime", KEY_LIFETIME, type_=Interval)


class StoredResponse(NamedTuple):
    """The first answer given to a key: replayed as it was."""

    status_code: int
    body: Any
    headers: dict[str, str]


class Claim(NamedTuple):
    """What a key holds: nothing yet, or the saved answer and its request's fingerprint."""

    fingerprint: str | None
    stored: StoredResponse | None


@statement
def _claim() -> Any:
    """Try the key's transaction lock and read its live answer, in one statement.

    Trying (never waiting) tells a request whose twin is still in flight at once.
    """
    live = (
        select(keys.c.fingerprint, keys.c.status_code, keys.c.body, keys.c.headers)
        .where(keys.c.subject == _SUBJECT, keys.c.idempotency_key == _KEY)
        .where(keys.c.created_at > _EXPIRED_BEFORE)
        .subquery("live")
    )
    lock = func.pg_try_advisory_xact_lock(bindparam("lock_id", type_=BigInteger))
    one = select(literal(1).label("one")).subquery("one")
    return select(lock.label("locked"), *live.c).select_from(one.outerjoin(live, true()))


@statement
def _save() -> Any:
    """Insert the answer (over an expired row of the same key); purge a few expired keys."""
    expired = (
        select(keys.c.subject, keys.c.idempotency_key)
        .where(keys.c.created_at <= _EXPIRED_BEFORE)
        .where(~and_(keys.c.subject == _SUBJECT, keys.c.idempotency_key == _KEY))
        .order_by(keys.c.created_at)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    purge = delete(keys).where(tuple_(keys.c.subject, keys.c.idempotency_key).in_(expired))
    inserted = insert(keys).values(
        subject=_SUBJECT,
        idempotency_key=_KEY,
        fingerprint=bindparam("fingerprint"),
        status_code=bindparam("status_code"),
        body=bindparam("body", type_=keys.c.body.type),
        headers=bindparam("headers", type_=keys.c.headers.type),
    )
    return (
        inserted.on_conflict_do_update(
            index_elements=[keys.c.subject, keys.c.idempotency_key],
            set_={
                "fingerprint": inserted.excluded.fingerprint,
                "status_code": inserted.excluded.status_code,
                "body": inserted.excluded.body,
                "headers": inserted.excluded.headers,
                "created_at": func.now(),
            },
            where=keys.c.created_at <= _EXPIRED_BEFORE,
        )
        .returning(keys.c.subject)
        .add_cte(purge.cte("purged"))
    )


def lock_id(subject: str, key: str) -> int:
    """The advisory lock number of a caller's key: 64 bits of a hash of both."""
    digest = hashlib.sha256(f"{len(subject)}:{subject}{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def claim(connection: Connection, *, subject: str, key: str) -> Claim:
    """Lock the caller's key for this transaction and return what it holds.

    Raises `IdempotencyKeyInFlightError` when another transaction holds the key.
    """
    parameters = {"subject": subject, "idempotency_key": key, "lock_id": lock_id(subject, key)}
    row = connection.execute(_claim(), parameters).one()
    if not row.locked:
        raise IdempotencyKeyInFlightError(
            "A request with this Idempotency-Key is still in progress; retry in a moment."
        )
    if row.fingerprint is None:
        return Claim(fingerprint=None, stored=None)
    stored = StoredResponse(status_code=row.status_code, body=row.body, headers=row.headers)
    return Claim(fingerprint=row.fingerprint, stored=stored)


def save(
    connection: Connection,
    *,
    subject: str,
    key: str,
    fingerprint: str,
    response: StoredResponse,
) -> None:
    """Keep `response` as the answer to the caller's key, in the caller's transaction.

    A live row for the key can only come from a twin request that committed after this
    one's claim read: this one then fails as in flight, and its transaction rolls back.
    """
    parameters = {
        "subject": subject,
        "idempotency_key": key,
        "fingerprint": fingerprint,
        "status_code": response.status_code,
        "body": response.body,
        "headers": response.headers,
    }
    if connection.execute(_save(), parameters).first() is None:
        raise IdempotencyKeyInFlightError(
            "A request with this Idempotency-Key was answered meanwhile; retry to get its answer."
        )


def replace(connection: Connection, *, subject: str, key: str, response: StoredResponse) -> None:
    """Replace the answer saved under the caller's key: the request that saved it finished
    more work after its commit, and answered with `response` instead."""
    connection.execute(
        update(keys)
        .where(keys.c.subject == subject, keys.c.idempotency_key == key)
        .values(status_code=response.status_code, body=response.body, headers=response.headers)
    )

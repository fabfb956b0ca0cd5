"""The protocol's floor: the raw floor's routes, each request one statement in one exchange.

Like `raw_handler` (same events, checks, SQL semantics and JSON), but every request is a
single statement that looks up the caller and does the work together, sent by
`SingleExchangeConnection` in one exchange: one round trip per request, the least the
protocol allows. The permission rules are the raw floor's, evaluated in SQL.
"""

from __future__ import annotations

import os
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pg8000

from bench.raw_handler import (
    CREATE_FIELDS,
    MAX_OFFSET,
    UNIQUE_VIOLATION,
    USER_TYPES,
    ProblemError,
    _int_in,
    _json_body,
    _response,
    _subject,
    _user,
    next_cursor,
)
from lambda_app.pg_driver import SingleExchangeConnection

COLUMNS = "u.id, u.email, u.full_name, u.user_type, u.created_at, u.updated_at"
READ_ANY_SQL = "('admin', 'staff')"
# The caller's type, then the target user if the caller may read it (else NULLs).
READ_USER = (
    f"SELECT c.user_type, {COLUMNS} FROM users AS c LEFT JOIN users AS u "
    f"ON u.id = :id AND (c.user_type IN {READ_ANY_SQL} OR c.id = u.id) WHERE c.subject = :s"
)
# The caller's type, the total, then one row per user of the page (if the caller may list).
LIST_USERS = (
    "SELECT c.user_type, (SELECT coalesce(sum(total), 0)::bigint FROM user_counts), "
    f"{COLUMNS} FROM users AS c LEFT JOIN LATERAL (SELECT * FROM users "
    f"WHERE c.user_type IN {READ_ANY_SQL} ORDER BY users.created_at, users.id "
    "LIMIT :limit OFFSET :offset) AS u ON true WHERE c.subject = :s ORDER BY u.created_at, u.id"
)
# The caller's type, then the new user if the caller is an admin (the insert runs only then).
CREATE_USER = (
    "WITH c AS (SELECT user_type FROM users WHERE subject = :s), "
    "u AS (INSERT INTO users (email, full_name, user_type) "
    "SELECT :email, :full_name, CAST(:user_type AS user_type) FROM c WHERE c.user_type = 'admin' "
    "RETURNING id, email, full_name, user_type, created_at, updated_at) "
    f"SELECT c.user_type, {COLUMNS} FROM c LEFT JOIN u ON true"
)

_connection: SingleExchangeConnection | None = None


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Answer one HTTP API event the way the app does for the benchmarked routes."""
    try:
        return _route(event)
    except ProblemError as problem:
        body = {"type": "about:blank", "title": problem.title, "status": problem.status}
        return _response(problem.status, {**body, "detail": problem.detail}, "problem")


def close_connection() -> None:
    """Close the kept-open connection; the next request opens a new one."""
    global _connection
    if _connection is not None:
        _connection.close()
        _connection = None


def _db() -> SingleExchangeConnection:
    global _connection
    if _connection is None:
        url = urlsplit(os.environ["DATABASE_URL"])
        _connection = SingleExchangeConnection(
            user=unquote(url.username or "postgres"),
            password=unquote(url.password) if url.password else None,
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            database=url.path.lstrip("/") or None,
            application_name="users-service-floor",
        )
        _connection.autocommit = True
    return _connection


def _route(event: dict[str, Any]) -> dict[str, Any]:
    method = event["requestContext"]["http"]["method"]
    parts = event["rawPath"].strip("/").split("/")
    if parts[0] != "users" or len(parts) > 2:
        raise ProblemError(404, "Not Found", "Not Found")
    subject = _subject(event)
    if len(parts) == 2 and method == "GET":
        return _read_user(subject, parts[1])
    if len(parts) == 1 and method == "GET":
        return _list_users(subject, dict(parse_qsl(event.get("rawQueryString") or "")))
    if len(parts) == 1 and method == "POST":
        return _create_user(subject, _json_body(event))
    raise ProblemError(405, "Method Not Allowed", "Method Not Allowed")


def _unregistered(rows: tuple[list[Any], ...]) -> None:
    if not rows:
        raise ProblemError(403, "Forbidden", "Register first with POST /users/me.")


def _read_user(subject: str, raw_id: str) -> dict[str, Any]:
    try:
        user_id = uuid.UUID(raw_id)
    except ValueError:
        raise ProblemError(422, "Unprocessable Content", "The user id is not a UUID.") from None
    rows = _db().run(READ_USER, id=user_id, s=subject)
    _unregistered(rows)
    if rows[0][1] is None:
        raise ProblemError(404, "User not found", f"No user has id {user_id}.")
    return _response(200, _user(rows[0][1:]))


def _list_users(subject: str, query: dict[str, str]) -> dict[str, Any]:
    if set(query) - {"limit", "offset"}:
        raise ProblemError(422, "Unprocessable Content", "The floor serves only limit and offset.")
    limit = _int_in(query.get("limit", "20"), 1, 100)
    offset = _int_in(query.get("offset", "0"), 0, MAX_OFFSET)
    rows = _db().run(LIST_USERS, limit=limit + 1, offset=offset, s=subject)
    _unregistered(rows)
    if rows[0][0] not in ("admin", "staff"):
        raise ProblemError(403, "Forbidden", "Only an admin may list users.")
    found = [row[2:] for row in rows if row[2] is not None]
    page = {"items": [_user(row) for row in found[:limit]], "total": rows[0][1]}
    page_fields = {"limit": limit, "offset": offset, "next_cursor": next_cursor(found, limit)}
    return _response(200, {**page, **page_fields})


def _create_user(subject: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) - CREATE_FIELDS or "email" not in body:
        raise ProblemError(422, "Unprocessable Content", "The request is not valid.")
    email, full_name = body["email"], body.get("full_name")
    user_type = body.get("user_type", "customer")
    if not isinstance(email, str) or email.count("@") != 1 or user_type not in USER_TYPES:
        raise ProblemError(422, "Unprocessable Content", "The request is not valid.")
    if full_name is not None and (not isinstance(full_name, str) or len(full_name) > 200):
        raise ProblemError(422, "Unprocessable Content", "The request is not valid.")
    email = email.strip().lower()
    try:
        rows = _db().run(
            CREATE_USER, s=subject, email=email, full_name=full_name, user_type=user_type
        )
    except pg8000.DatabaseError as error:
        details = error.args[0] if error.args else None
        if isinstance(details, dict) and details.get("C") == UNIQUE_VIOLATION:
            detail = "Another user already has this email."
            raise ProblemError(409, "Email already registered", detail) from None
        raise
    _unregistered(rows)
    if rows[0][1] is None:
        raise ProblemError(403, "Forbidden", "Only an admin may create users.")
    user = _user(rows[0][1:])
    # As the app answers without a user pool: the identity is not the service's to make.
    return _response(201, {**user, "identity": "unmanaged"}, location=f"/users/{user['id']}")

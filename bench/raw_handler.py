"""The floor: a hand-written Lambda handler for the benchmarked routes, pg8000 and nothing else.

It parses the same API Gateway HTTP API (payload 2.0) event as the app, looks up the caller
by the authorizer's `sub`, checks they may do it, runs the same SQL on one kept-open
connection (autocommit: each statement is its own transaction) and answers the same JSON.
Only `GET /users/{id}`, `GET /users?limit=&offset=` and `POST /users` are served.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pg8000.native

from lambda_app.utils.cursors import MAX_OFFSET, encode_cursor

USER_COLUMNS = "id, email, full_name, user_type, created_at, updated_at"
USER_FIELDS = ("id", "email", "full_name", "user_type", "created_at", "updated_at")
CREATE_FIELDS = frozenset({"email", "full_name", "user_type"})
USER_TYPES = frozenset({"admin", "staff", "customer"})
READ_ANY = frozenset({"admin", "staff"})
UNIQUE_VIOLATION = "23505"

_connection: pg8000.native.Connection | None = None


class ProblemError(Exception):
    """An error answered as `application/problem+json`."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


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


def _db() -> pg8000.native.Connection:
    global _connection
    if _connection is None:
        url = urlsplit(os.environ["DATABASE_URL"])
        _connection = pg8000.native.Connection(
            user=unquote(url.username or "postgres"),
            password=unquote(url.password) if url.password else None,
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            database=url.path.lstrip("/") or None,
            application_name="users-service-raw",
        )
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


def _subject(event: dict[str, Any]) -> str:
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    if not claims.get("sub"):
        raise ProblemError(
            401, "Not authenticated", "The request was not authorized by API Gateway."
        )
    return str(claims["sub"])


def _caller(subject: str) -> tuple[uuid.UUID, str]:
    rows = _db().run("SELECT id, user_type FROM users WHERE users.subject = :s", s=subject)
    if not rows:
        raise ProblemError(403, "Forbidden", "Register first with POST /users/me.")
    return rows[0][0], rows[0][1]


def _read_user(subject: str, raw_id: str) -> dict[str, Any]:
    try:
        user_id = uuid.UUID(raw_id)
    except ValueError:
        raise ProblemError(422, "Unprocessable Content", "The user id is not a UUID.") from None
    caller_id, caller_type = _caller(subject)
    if caller_type not in READ_ANY and caller_id != user_id:
        raise ProblemError(404, "User not found", f"No user has id {user_id}.")
    rows = _db().run(f"SELECT {USER_COLUMNS} FROM users WHERE users.id = :id", id=user_id)
    if not rows:
        raise ProblemError(404, "User not found", f"No user has id {user_id}.")
    return _response(200, _user(rows[0]))


def _list_users(subject: str, query: dict[str, str]) -> dict[str, Any]:
    if set(query) - {"limit", "offset"}:
        raise ProblemError(422, "Unprocessable Content", "The floor serves only limit and offset.")
    limit = _int_in(query.get("limit", "20"), 1, 100)
    offset = _int_in(query.get("offset", "0"), 0, MAX_OFFSET)
    _, caller_type = _caller(subject)
    if caller_type not in READ_ANY:
        raise ProblemError(403, "Forbidden", "Only an admin may list users.")
    rows = _db().run(
        f"SELECT {USER_COLUMNS} FROM users ORDER BY users.created_at, users.id "
        "LIMIT :limit OFFSET :offset",
        limit=limit + 1,  # one more tells whether a next page exists
        offset=offset,
    )
    # The same total the app reads: the per-type counts its triggers keep (migration 0003).
    total = _db().run("SELECT coalesce(sum(total), 0)::bigint FROM user_counts")[0][0]
    page = {"items": [_user(row) for row in rows[:limit]], "total": total}
    page_fields = {"limit": limit, "offset": offset, "next_cursor": next_cursor(rows, limit)}
    return _response(200, {**page, **page_fields})


def next_cursor(rows: list[list[Any]], limit: int) -> str | None:
    """The app's cursor after the page's last row (id first, created_at fifth), if more follow."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last[4], last[0])


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
    _, caller_type = _caller(subject)
    if caller_type != "admin":
        raise ProblemError(403, "Forbidden", "Only an admin may create users.")
    try:
        rows = _db().run(
            "INSERT INTO users (email, full_name, user_type) "
            f"VALUES (:email, :full_name, :user_type) RETURNING {USER_COLUMNS}",
            email=email,
            full_name=full_name,
            user_type=user_type,
        )
    except pg8000.native.DatabaseError as error:
        details = error.args[0] if error.args else None
        if isinstance(details, dict) and details.get("C") == UNIQUE_VIOLATION:
            detail = "Another user already has this email."
            raise ProblemError(409, "Email already registered", detail) from None
        raise
    user = _user(rows[0])
    # As the app answers without a user pool: the identity is not the service's to make.
    return _response(201, {**user, "identity": "unmanaged"}, location=f"/users/{user['id']}")


def _json_body(event: dict[str, Any]) -> Any:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    try:
        return json.loads(raw)
    except ValueError:
        raise ProblemError(422, "Unprocessable Content", "The body is not JSON.") from None


def _int_in(raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ProblemError(422, "Unprocessable Content", "The request is not valid.")
    return value


def _user(row: list[Any]) -> dict[str, Any]:
    return {field: _json_value(value) for field, value in zip(USER_FIELDS, row, strict=True)}


def _json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        # pg8000 answers timestamptz in UTC; pydantic writes that offset as "Z".
        return value.isoformat().replace("+00:00", "Z")
    return value


def _response(
    status: int, body: dict[str, Any], kind: str = "json", location: str | None = None
) -> dict[str, Any]:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    headers = {
        "content-length": str(len(text.encode())),
        "content-type": "application/json" if kind == "json" else "application/problem+json",
    }
    if location is not None:
        headers["location"] = location
    return {"statusCode": status, "headers": headers, "body": text, "isBase64Encoded": False}

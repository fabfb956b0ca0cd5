"""Check request bodies before the app sees them: size, media type, well-formed JSON text."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lambda_app.problems import problem_response
from lambda_app.schemas.problems import FieldError

JSON_MEDIA_TYPES = ("application/json",)


class BodyRejectedError(Exception):
    """The body cannot be accepted; carries the problem to answer with."""

    def __init__(self, status: int, detail: str, errors: list[FieldError] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


class RequestBodyMiddleware:
    """Answer 413 past `max_bytes`, 415 for non-JSON bodies, 422 for JSON a client cannot mean.

    Refused here: duplicate object keys (which key would win is a guess), nesting past the
    parser's limit, NUL characters and lone surrogates (PostgreSQL text cannot hold them).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
            if body:
                _check_json(scope, body)
        except BodyRejectedError as rejected:
            response = problem_response(rejected.status, rejected.detail, errors=rejected.errors)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise _too_large(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _too_large(self.max_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _too_large(max_bytes: int) -> BodyRejectedError:
    return BodyRejectedError(413, f"The request body is larger than {max_bytes} bytes.")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _check_json(scope: Scope, body: bytes) -> None:
    media_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        raise BodyRejectedError(415, "Send the body as application/json.")
    try:
        document = json.loads(body, object_pairs_hook=_without_duplicate_keys)
    except RecursionError:
        raise BodyRejectedError(422, "The JSON body is nested too deeply.") from None
    except ValueError as error:
        raise BodyRejectedError(422, f"The body is not valid JSON: {error}.") from None
    errors = list(_bad_text(document, "body"))
    if errors:
        raise BodyRejectedError(422, "The request is not valid; see `errors`.", errors)


def _without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"duplicate key {key!r}")
        document[key] = value
    return document


def _bad_text(value: Any, location: str) -> Any:
    """Yield an error for every string (key or value) PostgreSQL could not store as text."""
    if isinstance(value, str):
        if "\x00" in value:
            yield FieldError(field=location, message="must not contain NUL characters")
        elif not _is_encodable(value):
            yield FieldError(field=location, message="must be valid Unicode (no lone surrogates)")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _bad_text(key, f"{location}.{key!r}") if not _is_clean(key) else ()
            yield from _bad_text(item, f"{location}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_text(item, f"{location}.{index}")


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_clean(text: str) -> bool:
    return "\x00" not in text and _is_encodable(text)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the buffered body to the app once, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay

"""One JSON log line per request, and its id echoed in `X-Request-ID`."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lambda_app.external_services.metrics import record_request
from lambda_app.problems import internal_error_response, log_unexpected_error
from lambda_app.utils.json_logs import REQUEST_ID, write_json_line
from lambda_app.utils.routes import route_template

logger = logging.getLogger("lambda_app.requests")

# Set by the Lambda entry point for the duration of one invocation.
COLD_START: ContextVar[bool | None] = ContextVar("cold_start", default=None)
# The request line's message: method, route template and status.
LINE = "%s %s %s"
# The line's field naming the caller, kept in the request's state until the line is written.
USER_ID = "user_id"
# A client's own X-Request-ID is reused locally only when it looks like an id.
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestLogMiddleware:
    """Log method, route template, status, duration and user of every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception as error:
            log_unexpected_error(scope["method"], scope["path"], error)
            if not response_started:
                await internal_error_response()(scope, receive, send_with_request_id)
        finally:
            _log_request(scope, status, time.perf_counter() - started)
            REQUEST_ID.reset(token)


def log_user(scope: Scope, user_id: str) -> None:
    """Name the registered caller in the request's log line."""
    scope.setdefault("state", {})[USER_ID] = user_id


def _request_id(scope: Scope) -> str:
    context = scope.get("aws.context")
    if context is not None and getattr(context, "aws_request_id", None):
        return str(context.aws_request_id)
    event = scope.get("aws.event")
    if event is not None and event.get("requestContext", {}).get("requestId"):
        return str(event["requestContext"]["requestId"])
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.match(candidate):
                return str(candidate)
    return uuid.uuid4().hex


def _log_request(scope: Scope, status: int, seconds: float) -> None:
    route = route_template(scope)
    fields: dict[str, Any] = {
        "method": scope["method"],
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
    }
    user_id = scope.get("state", {}).get(USER_ID)
    if user_id is not None:
        fields["user_id"] = user_id
    event = scope.get("aws.event")
    if event is not None:
        cold_start = bool(COLD_START.get())
        fields["apigw_request_id"] = event.get("requestContext", {}).get("requestId")
        fields["cold_start"] = cold_start
        record_request(route, status, cold_start=cold_start)
    if logger.isEnabledFor(logging.INFO):
        args = (scope["method"], route, status)
        if write_json_line(logger, logging.INFO, LINE % args, fields):
            return
        # The record made and handled directly: `logger.info` would first walk the stack for
        # the caller's file and line, which the JSON line never shows.
        record = logger.makeRecord(
            logger.name, logging.INFO, __file__, 0, LINE, args, None, extra=fields
        )
        logger.handle(record)

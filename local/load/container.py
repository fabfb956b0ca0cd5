"""One Lambda container of `make load`: import the handler, then serve invocations one by one.

Run as `python -m local.load.container` by the fleet. Requests arrive as JSON lines on stdin;
each becomes an API Gateway HTTP API (payload 2.0) event with the JWT authorizer's claims,
passed to `lambda_app.handler.handler` with a context whose remaining time runs down.
Answers leave as JSON lines on the process's original stdout; the app's own stdout (its
request log and metric lines, which Lambda would ship to CloudWatch) goes to stderr's file.
An answer also says which server the app logged for a list page (`read_from`), as a log
subscription would read it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import IO, Any

from bench.events import LambdaContext, http_api_event

# The API function's timeout (infra/api.py): what the context's remaining time starts from.
FUNCTION_TIMEOUT_SECONDS = 25.0
# API Gateway answers 502 when the function raises; so does the load's container
# (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
UNHANDLED_ERROR_STATUS = 502
# The answer headers the workload reads.
KEPT_HEADERS = ("content-type", "etag", "idempotent-replayed", "location")


@dataclass(frozen=True)
class InvocationContext(LambdaContext):
    """Lambda's context object for one invocation: its remaining time counts down."""

    deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout, as Lambda reports them."""
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def invocation_context() -> InvocationContext:
    """The context of an invocation starting now."""
    return InvocationContext(
        aws_request_id=str(uuid.uuid4()), deadline=time.monotonic() + FUNCTION_TIMEOUT_SECONDS
    )


def event_for(request: dict[str, Any]) -> dict[str, Any]:
    """The HTTP API event of one request of the workload."""
    event = http_api_event(
        request["method"],
        request["path"],
        subject=request["subject"],
        email=request["email"],
        query=request.get("query"),
        body=request.get("body"),
    )
    event["headers"].update({name.lower(): value for name, value in request["headers"].items()})
    return event


def answer_of(response: dict[str, Any]) -> dict[str, Any]:
    """What the workload needs of the handler's response: status, some headers, the body."""
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    raw = response.get("body") or ""
    encoded = bool(response.get("isBase64Encoded"))
    text = base64.b64decode(raw).decode() if encoded else raw
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    return {
        "status": response["statusCode"],
        "headers": {name: headers[name] for name in KEPT_HEADERS if name in headers},
        "body": body,
        "base64": encoded,
    }


class ReadRoutingLog(logging.Handler):
    """The server the app logged for the current invocation's list page, if it logged one."""

    def __init__(self, read_from: str, replica_state: str) -> None:
        super().__init__(logging.INFO)
        self._fields = read_from, replica_state
        self.answered_by: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        read_from, state = (getattr(record, name, None) for name in self._fields)
        if read_from is not None:
            self.answered_by = f"{read_from} ({state})" if state else str(read_from)


def serve(
    handler: Any, requests: IO[str], answers: IO[str], routing: ReadRoutingLog | None = None
) -> None:
    """Invoke `handler` once per request line until the input ends."""
    for line in requests:
        request = json.loads(line)
        event, context = event_for(request), invocation_context()
        if routing is not None:
            routing.answered_by = None
        started = time.perf_counter()
        try:
            answer = answer_of(handler(event, context))
        except Exception:
            traceback.print_exc()
            answer = {"status": UNHANDLED_ERROR_STATUS, "headers": {}, "body": None}
        answer["ms"] = (time.perf_counter() - started) * 1000
        answer["read_from"] = routing.answered_by if routing is not None else None
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> None:
    """Set the channels apart, run the init phase (import the handler), then serve."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    # From here on, whatever writes to stdout (the app's logs and metrics) lands in stderr's file.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    started = time.perf_counter()
    from lambda_app.handler import handler

    init_ms = (time.perf_counter() - started) * 1000
    from lambda_app import read_routing

    routing = ReadRoutingLog(read_routing.READ_FROM, read_routing.REPLICA_STATE)
    logging.getLogger(read_routing.__name__).addHandler(routing)
    answers.write(json.dumps({"ready": True, "init_ms": init_ms, "pid": os.getpid()}) + "\n")
    answers.flush()
    serve(handler, sys.stdin, answers, routing)


if __name__ == "__main__":
    main()

"""X-Ray tracing with Powertools' Tracer: on only where `TRACING` says so, free when off.

The CDK sets `TRACING=true` on the API function together with X-Ray active tracing.
Everywhere else (uvicorn, tests, the benchmark) tracing is off, and then neither
Powertools' tracer nor the X-Ray SDK is imported: `trace_requests` and `trace_handler`
hand back what they were given.

When on, each invocation gets Powertools' ``## serve`` subsegment (named after the
handler function; ``ColdStart`` and ``Service`` annotations), the route template, method
and status as annotations, one ``remote`` subsegment per SQL statement (from SQLAlchemy's
engine events) and one ``aws`` subsegment per S3 call (the X-Ray SDK's botocore patch).
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lambda_app.config import get_settings
from lambda_app.utils.routes import route_template

if TYPE_CHECKING:
    from numbers import Number

    from aws_lambda_powertools import Tracer

logger = logging.getLogger(__name__)

# The environment variable of the `tracing` setting.
TRACING_VARIABLE = "TRACING"
DATABASE_SUBSEGMENT = "PostgreSQL"
# Statements SQLAlchemy compiled carry placeholders only; text sent as is (the migration's
# role maintenance) may hold literals, so of those only the first keyword is recorded.
UNCOMPILED_STATEMENT_WORDS = 1

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

_tracer: Tracer | None = None
_tracer_missing = False
_tracer_lock = threading.Lock()
# The statement (its execution context's id) whose subsegment is open in this context.
_open_statement: ContextVar[int | None] = ContextVar("open_statement", default=None)


def tracing_enabled() -> bool:
    """Tell whether `TRACING` turns tracing on (set by the CDK; unset means off)."""
    return get_settings().tracing


def get_tracer() -> Tracer | None:
    """Return this process's tracer, creating it (and patching S3 and SQL) on first use.

    None when the X-Ray SDK is not installed: Lambda still records its own segments.
    """
    global _tracer, _tracer_missing
    if _tracer is None and not _tracer_missing:
        with _tracer_lock:
            if _tracer is None and not _tracer_missing:
                try:
                    _tracer = _create_tracer()
                except ImportError:
                    _tracer_missing = True
                    logger.warning("TRACING is on but the X-Ray SDK is missing; not tracing")
    return _tracer


def trace_requests(app: ASGIApp) -> ASGIApp:
    """Annotate each request's trace with its route, method and status; `app` when off."""
    tracer = get_tracer() if tracing_enabled() else None
    if tracer is None:
        return app

    async def annotated(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_recording_status)
        finally:
            tracer.put_annotation("route", route_template(scope))
            tracer.put_annotation("method", scope["method"])
            # An int is a numbers.Number, which mypy does not see (PEP 484's numeric tower).
            tracer.put_annotation("status", cast("Number", status))

    return annotated


def trace_handler(handler: Handler) -> Handler:
    """Wrap a Lambda handler in Powertools' ``## <name>`` subsegment; `handler` when off."""
    tracer = get_tracer() if tracing_enabled() else None
    if tracer is None:
        return handler
    # Responses hold user data: they never go into the trace.
    traced: Handler = tracer.capture_lambda_handler(handler, capture_response=False)
    return traced


def _create_tracer() -> Tracer:
    # Fails here, before anything is patched, when the bundle lacks the SDK.
    import aws_xray_sdk  # type: ignore[import-untyped]  # noqa: F401
    from aws_lambda_powertools import Tracer

    tracer = Tracer(auto_patch=False)
    tracer.patch(["botocore"])
    _trace_statements()
    return tracer


def _trace_statements() -> None:
    """One subsegment per statement of every engine, the ones made before included."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "before_cursor_execute", _begin_statement, named=True)
    event.listen(Engine, "after_cursor_execute", _end_statement, named=True)
    event.listen(Engine, "handle_error", _fail_statement)


def _recorder() -> Any:
    from aws_xray_sdk.core import xray_recorder  # type: ignore[import-untyped]

    return xray_recorder


def _never_fails(listener: Callable[..., None]) -> Callable[..., None]:
    """Log a tracing failure instead of failing the statement it describes."""

    @functools.wraps(listener)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            listener(*args, **kwargs)
        except Exception:
            logger.exception("Could not trace a database statement")

    return guarded


@_never_fails
def _begin_statement(**event: Any) -> None:
    subsegment = _recorder().begin_subsegment(DATABASE_SUBSEGMENT, namespace="remote")
    if subsegment is None:  # outside a traced invocation (init, migrations by hand)
        return
    context, statement = event["context"], event["statement"]
    _open_statement.set(id(context))
    compiled = context is not None and getattr(context, "compiled", None) is not None
    subsegment.set_sql(
        {
            "database_type": DATABASE_SUBSEGMENT,
            "driver_version": f"pg8000-{_pg8000_version()}",
            "sanitized_query": statement
            if compiled
            else " ".join(statement.split()[:UNCOMPILED_STATEMENT_WORDS]),
        }
    )


@_never_fails
def _end_statement(**event: Any) -> None:
    if _open_statement.get() == id(event["context"]):
        _open_statement.set(None)
        _recorder().end_subsegment()


@_never_fails
def _fail_statement(exception_context: Any) -> None:
    context = exception_context.execution_context
    if context is None or _open_statement.get() != id(context):
        return  # not a statement we opened a subsegment for, e.g. a failed connect
    _open_statement.set(None)
    recorder = _recorder()
    subsegment = recorder.current_subsegment()
    if subsegment is not None:
        error = exception_context.original_exception
        # The class only: a driver's message may quote the values a statement was given.
        subsegment.add_fault_flag()
        subsegment.put_metadata("error", type(error).__name__, "database")
    recorder.end_subsegment()


def _pg8000_version() -> str:
    module = sys.modules.get("pg8000")
    return str(getattr(module, "__version__", "unknown"))

"""What the app's request line and metrics line cost of its CPU over the bare stack.

`python -m bench.parts [--samples N] [--rounds R] [--latency-ms D]` times `GET /users/{id}`
on its own database of the bench server: the app as it is, without its request log line,
without its EMF metrics line, and without both, each against the bare stack in a pass of its
own (as `make bench` pairs them), R rounds; with D, every handler reaches PostgreSQL through
`bench.latency_proxy`, D ms each way, as in `make bench`'s second pass. It prints each
variant's CPU over the bare stack's (median of the handler's own CPU time) per round, and its
Python calls per request. What remains without both lines is the app's route work: the
caller lookup's dependencies, the permission check, the ETag, the response model, the
middlewares.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench.calls import warm_calls
from bench.quiet import app_output_to
from bench.runner import (
    ADMIN_EMAIL,
    ADMIN_SUBJECT,
    APP_LOG,
    handlers_through_latency,
    seeded_database,
)
from bench.timing import Handler, time_interleaved
from bench.warm import Caller, get_user_event

DATABASE_NAME = "users_bench_parts"
WARMUP = 200


def _without(app: Handler, *, request_line: bool, metrics_line: bool) -> Handler:
    """`app`, with its request line or metrics line switched off during each call."""
    from lambda_app.middleware import request_log

    line_logger = logging.getLogger(request_log.logger.name)
    record_request = request_log.record_request

    @contextmanager
    def switched_off() -> Iterator[None]:
        line_logger.disabled = not request_line
        if not metrics_line:
            request_log.record_request = lambda *_, **__: None  # type: ignore[assignment]
        try:
            yield
        finally:
            line_logger.disabled = False
            request_log.record_request = record_request

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with switched_off():
            return app(event, context)

    return handler


def variants(app: Handler) -> dict[str, Handler]:
    """The app as it is, and with each line switched off."""
    return {
        "app": app,
        "without request line": _without(app, request_line=False, metrics_line=True),
        "without metrics line": _without(app, request_line=True, metrics_line=False),
        "without both": _without(app, request_line=False, metrics_line=False),
    }


def cpu_over_bare(
    handler: Handler, bare: Handler, make_event: Callable[[], dict[str, Any]], samples: int
) -> float:
    """`handler`'s median CPU per request over `bare`'s, in one interleaved pass."""
    taken = time_interleaved(
        {"variant": handler, "bare": bare},
        make_event,
        expected_status=200,
        samples=samples,
        warmup=WARMUP,
    )
    return statistics.median(taken["variant"].cpu) / statistics.median(taken["bare"].cpu)


def main(argv: list[str] | None = None) -> None:
    """Time the app's variants against the bare stack on a side database."""
    parser = argparse.ArgumentParser(prog="python -m bench.parts", description=__doc__)
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="ms added each way")
    arguments = parser.parse_args(argv)
    with seeded_database(DATABASE_NAME) as user_id, ExitStack() as stack:
        if arguments.latency_ms:
            url = os.environ["DATABASE_URL"]  # set by seeded_database, as the app reads it
            stack.enter_context(handlers_through_latency(url, arguments.latency_ms))
        from bench.stack_handler import bare_handler
        from lambda_app.handler import handler as app_handler

        make_event = get_user_event(Caller(ADMIN_SUBJECT, ADMIN_EMAIL), user_id)
        handlers = variants(app_handler)
        with app_output_to(APP_LOG) as console:
            ratios: dict[str, list[float]] = {name: [] for name in handlers}
            for _ in range(arguments.rounds):
                for name, handler in handlers.items():
                    ratios[name].append(
                        cpu_over_bare(handler, bare_handler, make_event, arguments.samples)
                    )
            calls = warm_calls({**handlers, "bare": bare_handler}, make_event)
            console.write(
                f"GET /users/{{id}} at +{arguments.latency_ms:g} ms each way: CPU over the "
                f"bare stack's, {arguments.rounds} rounds\n"
            )
            for name, taken in ratios.items():
                rounds = " ".join(f"{ratio:.2f}" for ratio in taken)
                console.write(
                    f"  {name:<22}{statistics.median(taken):>6.2f}  ({rounds})  "
                    f"{calls[name]:,.0f} Python calls (bare {calls['bare']:,.0f})\n"
                )


if __name__ == "__main__":
    main()

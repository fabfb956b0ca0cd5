"""One cold start: import a handler, answer one event, print when the response was ready.

Run by `bench.cold_start` as `python -m bench.cold_child KIND` in a fresh process. Times are
CLOCK_MONOTONIC, which on Linux is one clock for every process (time since boot, never
stepped), so the parent's reading before the spawn and ours compare directly. With
`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` the app's snapshot hooks run between init and
the first request, as Lambda runs them around a snapshot and a restore.
"""

import time

STARTED_NS = time.clock_gettime_ns(time.CLOCK_MONOTONIC)  # our first line of Python

import json  # noqa: E402 - after the first timestamp on purpose
import os  # noqa: E402
import sys  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from typing import Any  # noqa: E402

EVENT_VARIABLE = "BENCH_COLD_EVENT"
MARKER = "BENCH_COLD "
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"


def _import_handler(kind: str) -> Any:
    # Each import is what Lambda's init phase would run for that function.
    if kind == "app":
        from lambda_app.handler import handler as app_handler

        return app_handler
    if kind == "raw":
        from bench.raw_handler import handler as raw_handler

        return raw_handler
    if kind == "bare_stack":
        from bench.bare_stack_app import handler as bare_stack_handler

        return bare_stack_handler
    if kind == "empty_fastapi":
        from bench.empty_app import handler as empty_handler

        return empty_handler
    raise SystemExit(f"unknown kind {kind!r}")


def _snapshot_and_restore() -> None:
    from lambda_app import snapstart

    snapstart.before_snapshot()
    snapstart.after_restore()


def main() -> None:
    """Import the handler of `sys.argv[1]`, answer the event, print the timestamps as JSON."""
    kind = sys.argv[1]
    event = json.loads(os.environ[EVENT_VARIABLE])
    context = SimpleNamespace(
        aws_request_id="00000000-0000-4000-8000-000000000001",
        function_name="users-api",
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:users-api",
        get_remaining_time_in_millis=lambda: 29_000,
    )
    before_init = set(sys.modules)
    imported_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    handler = _import_handler(kind)
    if os.environ.get(INITIALIZATION_TYPE) == SNAP_START:
        _snapshot_and_restore()
    loaded = set(sys.modules)
    initialised_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    response = handler(event, context)
    answered_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    report = {
        "status": response["statusCode"],
        "started_ns": STARTED_NS,
        "imported_ns": imported_ns,
        "initialised_ns": initialised_ns,
        "answered_ns": answered_ns,
        "init_modules": len(loaded - before_init),
        "first_request_modules": sorted(set(sys.modules) - loaded),
    }
    sys.stdout.write(MARKER + json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

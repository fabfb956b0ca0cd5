"""Where a request's time goes: its SQL and round trips, and the app's profile by package.

`python -m bench.profile [--route get_user|list_users|create_user] [--calls N]` runs on its
own database of the bench server (embedded, or `BENCH_DATABASE_URL`) and prints:
the round trips each handler needs for one request and the statements of each, then the app's own
time (cProfile self time) summed per package over N requests, the Python function calls per
request of the app and of each other handler (the stacks on get_user), and the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import pstats
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bench.calls import calls_per_request
from bench.events import http_api_event, lambda_context
from bench.round_trips import recording
from bench.runner import ADMIN_EMAIL, ADMIN_SUBJECT, seeded_database
from bench.timing import Handler

DATABASE_NAME = "users_bench_profile"
SITE_PACKAGES = re.compile(r"site-packages/([A-Za-z0-9_]+)")
STDLIB = re.compile(r"python3\.\d+/([A-Za-z0-9_]+)")
IDLE = "idle"


@contextmanager
def profiled_threads() -> Iterator[list[cProfile.Profile]]:
    """Profile this thread and every thread started meanwhile (the app's worker threads)."""
    profilers = [cProfile.Profile()]

    def start_profiler(*_: Any) -> None:
        # Called on a new thread's first event: hand that thread to its own profiler.
        sys.setprofile(None)
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()

    threading.setprofile(start_profiler)
    profilers[0].enable()
    try:
        yield profilers
    finally:
        profilers[0].disable()
        threading.setprofile(None)


def _package(filename: str, function: str) -> str:
    if filename == "~":
        if "epoll" in function or "_thread.lock" in function:
            return IDLE
        if "_socket.socket" in function:
            return "socket send/recv (PostgreSQL round trips)"
        return "builtins"
    if "lambda_app/" in filename:
        return "lambda_app"
    found = SITE_PACKAGES.search(filename) or STDLIB.search(filename)
    if found is None:
        return "other"
    return found.group(1) if "site-packages" in filename else f"stdlib {found.group(1)}"


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Busy self time per package (waits for another thread left out), as shares."""
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    shares: Counter[str] = Counter()
    for (filename, _, function), (_, _, self_time, _, _) in entries.items():
        shares[_package(filename, function)] += self_time
    del shares[IDLE]
    total = sum(shares.values())
    return [(name, share / total) for name, share in shares.most_common()]


def _events(route: str, user_id: str) -> Callable[[], dict[str, Any]]:
    numbers = itertools.count()

    def event() -> dict[str, Any]:
        if route == "get_user":
            method, path, query, body = "GET", f"/users/{user_id}", None, None
        elif route == "list_users":
            method, path, query, body = "GET", "/users", {"limit": "100"}, None
        else:
            body = {"email": f"profiled-{next(numbers)}@example.com"}
            method, path, query = "POST", "/users", None
        return http_api_event(
            method, path, subject=ADMIN_SUBJECT, email=ADMIN_EMAIL, query=query, body=body
        )

    return event


def profile(route: str, calls: int, handlers: dict[str, Handler], user_id: str) -> None:
    """Print the SQL of one request per handler, then the app's profile over `calls`."""
    make_event = _events(route, user_id)
    for handler in handlers.values():
        handler(make_event(), lambda_context())  # connections open, caches warm
    for name, handler in handlers.items():
        with recording() as recorded:
            handler(make_event(), lambda_context())
        print(f"\n{name}: {recorded.round_trips} round trips for one {route}, statements of each:")
        print("\n".join(f"  {line}" for line in recorded.describe()))
    app = handlers["app"]
    events = [make_event() for _ in range(calls)]
    started = time.perf_counter()
    with profiled_threads() as profilers:
        for event in events:
            app(event, lambda_context())
    elapsed_us = (time.perf_counter() - started) / calls * 1e6
    stats = pstats.Stats(*profilers)
    print(
        f"\napp: {calls} x {route}, {elapsed_us:,.0f} us each under the profiler, "
        f"{len(profilers) - 1} threads started; busy self time by package "
        "(all threads, waits for another thread left out):"
    )
    for name, share in by_package(stats)[:15]:
        print(f"  {share:6.1%}  {name}")
    total_calls: int = stats.total_calls  # type: ignore[attr-defined]
    print(f"\napp: {total_calls / calls:,.0f} Python function calls per request")
    for name, handler in handlers.items():
        if name != "app":
            per_request = calls_per_request(handler, [make_event() for _ in range(calls)])
            print(f"{name}: {per_request:,.0f} Python function calls per request")
    print("\napp: top functions by self time (all threads)")
    stats.sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> None:
    """Set up a profiling database, profile one route, drop the database."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument(
        "--route", choices=("get_user", "list_users", "create_user"), default="get_user"
    )
    parser.add_argument("--calls", type=int, default=300)
    arguments = parser.parse_args(argv)
    with seeded_database(DATABASE_NAME) as user_id:
        from bench import floor_handler, raw_handler, stack_handler
        from lambda_app.handler import handler as app_handler

        handlers: dict[str, Handler] = {
            "app": app_handler,
            "raw": raw_handler.handler,
            "floor": floor_handler.handler,
        }
        if arguments.route == "get_user":  # the stacks serve that route only
            handlers["stack"] = stack_handler.handler
            handlers["bare_stack"] = stack_handler.bare_handler
        profile(arguments.route, arguments.calls, handlers, user_id)


if __name__ == "__main__":
    main()

"""A request's CPU time after its core sat idle: the app's and the floor's, by the idle gap.

`python -m bench.idle [--gaps-ms 0 1 5] [--calls 400] [--rounds 3]` runs on its own database
of the bench server (embedded, or `BENCH_DATABASE_URL`), straight to PostgreSQL. Each round
calls every handler `calls` times per gap, sleeping the gap before each call, and takes the
median CPU time of the calling thread per request (waits for PostgreSQL left out); the
table shows the median over rounds.

A waiting core loses what its caches held and may slow down: the longer the gap, the more a
request's own instructions cost. The app runs far more code than the floor, so it pays
more; this is why its CPU time per request grows through the latency relay, where every
request waits about a millisecond, and more when it follows the raw handler's six waits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench import database, warm
from bench.events import lambda_context
from bench.quiet import app_output_to
from bench.runner import ADMIN_EMAIL, ADMIN_SUBJECT, seeded_database
from bench.timing import EventFactory, Handler

DATABASE_NAME = "users_bench_idle"
LOG_FILE = database.PROJECT_ROOT / ".local" / "bench-idle-app.log"
UNTIMED_CALLS = 50  # per handler, gap and round: caches and connections settle first


def cpu_after_gap(handler: Handler, make_event: EventFactory, *, gap_s: float, calls: int) -> float:
    """The median CPU time in microseconds of `calls` requests, each after `gap_s` of sleep."""
    cpu_us = []
    for index in range(UNTIMED_CALLS + calls):
        if gap_s:
            time.sleep(gap_s)
        event, context = make_event(), lambda_context()
        started = time.thread_time_ns()
        handler(event, context)
        if index >= UNTIMED_CALLS:
            cpu_us.append((time.thread_time_ns() - started) / 1000)
    return statistics.median(cpu_us)


def measure(
    handlers: dict[str, Handler],
    make_event: EventFactory,
    *,
    gaps_ms: list[float],
    calls: int,
    rounds: int,
) -> dict[float, dict[str, float]]:
    """Median over `rounds` of each handler's median CPU time per request, by gap."""
    samples: dict[float, dict[str, list[float]]] = {
        gap: {name: [] for name in handlers} for gap in gaps_ms
    }
    for _ in range(rounds):
        for gap in gaps_ms:
            for name, handler in handlers.items():
                cpu = cpu_after_gap(handler, make_event, gap_s=gap / 1000, calls=calls)
                samples[gap][name].append(cpu)
    return {
        gap: {name: statistics.median(values) for name, values in by_handler.items()}
        for gap, by_handler in samples.items()
    }


def table(results: dict[float, dict[str, float]]) -> str:
    """The results as rows: gap, the app's and the floor's CPU time, and their difference."""
    lines = [f"{'idle gap':>9}{'app CPU us':>13}{'floor CPU us':>15}{'app - floor':>14}"]
    for gap, cpu in results.items():
        lines.append(
            f"{gap:>6g} ms{cpu['app']:>13,.0f}{cpu['floor']:>15,.0f}"
            f"{cpu['app'] - cpu['floor']:>14,.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Set up a database, measure get_user after each gap, print the table, drop it."""
    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__)
    parser.add_argument("--gaps-ms", type=float, nargs="+", default=[0.0, 1.0, 5.0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    LOG_FILE.unlink(missing_ok=True)
    with seeded_database(DATABASE_NAME) as user_id:
        from bench.floor_handler import handler as floor_handler
        from lambda_app.handler import handler as app_handler

        caller = warm.Caller(subject=ADMIN_SUBJECT, email=ADMIN_EMAIL)
        with app_output_to(Path(LOG_FILE)) as console:
            results = measure(
                {"app": app_handler, "floor": floor_handler},
                warm.get_user_event(caller, user_id),
                gaps_ms=arguments.gaps_ms,
                calls=arguments.calls,
                rounds=arguments.rounds,
            )
            console.write(
                f"get_user, CPU time per request after an idle gap (medians; "
                f"{arguments.calls} calls x {arguments.rounds} rounds per gap; "
                f"load average {os.getloadavg()[0]:.2f}):\n{table(results)}\n"
            )


if __name__ == "__main__":
    main()

"""Run every benchmark on the bench server and report: `python -m bench`."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bench import bundle, cold_start, database, machine, report, warm
from bench.events import http_api_event
from bench.quiet import app_output_to
from bench.timing import Handler

DATABASE_NAME = "users_bench"
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_SUBJECT = "bench-admin-subject"
SEED_USERS = 150  # more than the 100 rows list_users asks for
TARGET_EMAIL = "seed-1@example.com"  # a seeded customer, read by get_user and cold starts
SCALING_SIZES = (1_000, 100_000)
APP_LOG = database.PROJECT_ROOT / ".local" / "bench-app.log"
# Lambda sets these; no AWS call is made by the benchmarked routes.
AWS_DEFAULTS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Plan:
    """How many samples each benchmark takes."""

    get_samples: int
    list_samples: int
    create_samples: int
    scaling_samples: int
    warmup: int
    cold_samples: int

    def as_json(self) -> dict[str, int]:
        """The plan as recorded in results.json."""
        return dict(vars(self))


METHOD = {
    "figures": "median with p10/p90 (suffixes _p10, _p90) over _samples samples",
    "warm": "in-process Lambda calls (event, context); app and raw alternate every call, "
    "who goes first alternating too; fresh event per call; GC on; the app's stdout "
    "(JSON logs, metrics) goes to .local/bench-app.log",
    "cold_start": "python -m bench.cold_child per sample, kinds rotated per round, one unmeasured "
    "start each first (byte code caches); CLOCK_MONOTONIC (system-wide on Linux) read by "
    "the parent just before the spawn and by the child once the first response is built",
    "list_scaling": "one database per size, ANALYZEd after loading; the database switches every "
    "25 calls (5 untimed after each switch), app and raw interleaved within",
}

FULL = Plan(1500, 600, 800, 400, 100, 20)
QUICK = Plan(60, 40, 40, 30, 10, 3)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--cold-samples", type=int, help="cold starts per kind (default 20)")
    parser.add_argument("--output", type=Path, default=report.RESULTS_FILE)
    return parser.parse_args(argv)


def _handlers() -> dict[str, Handler]:
    """The app's real entry point and the floor; imported once DATABASE_URL is set."""
    from bench.raw_handler import handler as raw_handler
    from lambda_app.handler import handler as app_handler

    return {"app": app_handler, "raw": raw_handler}


def _warm(plan: Plan, caller: warm.Caller, user_id: str, console: TextIO) -> dict[str, Any]:
    handlers = _handlers()
    console.write("warm path: get_user, list_users, create_user\n")
    results: dict[str, Any] = {
        "get_user": warm.get_user(
            handlers, caller, user_id, samples=plan.get_samples, warmup=plan.warmup
        ).as_json(),
        "list_users": {
            **warm.list_users(
                handlers, caller, samples=plan.list_samples, warmup=plan.warmup
            ).as_json(),
            "rows": warm.LIST_ROWS,
        },
        "create_user": warm.create_user(
            handlers, caller, samples=plan.create_samples, warmup=plan.warmup
        ).as_json(),
    }
    return results


def _scaling(plan: Plan, server_url: str, databases: list[str], console: TextIO) -> dict[str, Any]:
    """Load one database per size, then time the app and raw on them, batch by batch."""
    urls: dict[int, str] = {}
    for size in SCALING_SIZES:
        console.write(f"list_scaling: loading {size:,} users\n")
        name = f"{DATABASE_NAME}_{size}"
        databases.append(name)
        urls[size] = database.recreate_database(server_url, name)
        database.migrate_and_bootstrap(urls[size], email=ADMIN_EMAIL, subject=ADMIN_SUBJECT)
        database.seed_users(urls[size], size - 1, prefix=f"scale-{size}")
    caller = warm.Caller(subject=ADMIN_SUBJECT, email=ADMIN_EMAIL)
    console.write("list_scaling: timing, switching database every batch\n")
    compared = warm.list_scaling(_handlers(), caller, urls, samples=plan.scaling_samples)
    results: dict[str, Any] = {str(size): compared[size].as_json() for size in SCALING_SIZES}
    small, large = (compared[size].app.median for size in SCALING_SIZES)
    results["growth"] = round(large / small, 2)
    results["limit"] = warm.SCALING_PAGE
    return results


def main(argv: list[str] | None = None) -> None:
    """Set up the bench database, run every benchmark, print the table, write results.json."""
    started = time.monotonic()
    load_at_start = round(os.getloadavg()[0], 2)
    arguments = _arguments(argv)
    plan = QUICK if arguments.quick else FULL
    if arguments.cold_samples:
        plan = Plan(**{**plan.as_json(), "cold_samples": arguments.cold_samples})
    for name, value in AWS_DEFAULTS.items():
        os.environ.setdefault(name, value)
    server_source = (
        "BENCH_DATABASE_URL" if os.environ.get(database.SERVER_URL_VARIABLE) else "embedded"
    )
    APP_LOG.unlink(missing_ok=True)
    with database.bench_server() as server_url:
        print(f"PostgreSQL ({server_source}); the app's log lines go to {APP_LOG}", flush=True)
        url = database.recreate_database(server_url, DATABASE_NAME)
        databases = [DATABASE_NAME]
        try:
            database.migrate_and_bootstrap(url, email=ADMIN_EMAIL, subject=ADMIN_SUBJECT)
            database.seed_users(url, SEED_USERS, prefix="seed")
            # Another user than the caller: see warm.get_user.
            user_id = database.user_id_by_email(url, TARGET_EMAIL)
            caller = warm.Caller(subject=ADMIN_SUBJECT, email=ADMIN_EMAIL)
            with app_output_to(APP_LOG) as console:
                results = _warm(plan, caller, user_id, console)
                console.write(f"cold start: {plan.cold_samples} x app, raw, empty_fastapi\n")
                event = http_api_event(
                    "GET", f"/users/{user_id}", subject=ADMIN_SUBJECT, email=ADMIN_EMAIL
                )
                results["cold_start"] = cold_start.measure(
                    event, samples=plan.cold_samples
                ).as_json()
                postgres_version = database.server_version(url)
                results["list_scaling"] = _scaling(plan, server_url, databases, console)
        finally:
            from bench.raw_handler import close_connection
            from lambda_app.db import dispose_engine

            close_connection()
            dispose_engine()
            for name in databases:
                database.drop_database(server_url, name)
    print("bundle: measuring build/lambda", flush=True)
    results["bundle_mb"] = bundle.measure()
    results["machine"] = machine.describe(postgres_version, server_source, load_at_start)
    results["plan"] = plan.as_json()
    results["method"] = METHOD
    results["targets"] = report.check_targets(results)
    results["wall_time_s"] = round(time.monotonic() - started, 1)
    report.write(results, arguments.output)
    print()
    print(report.table(results))
    print(f"\nwrote {arguments.output}")

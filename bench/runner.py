"""Run every benchmark on the bench server and report: `python -m bench`."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.engine import make_url

from bench import (
    bundle,
    calls,
    cold_start,
    cores,
    database,
    history,
    latency_proxy,
    machine,
    report,
    warm,
)
from bench.deployed import deployed_database
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
NOT_DEPLOYED = (
    "the server at BENCH_DATABASE_URL is not the bench's own: the deployed kind trusts the "
    "app's role from loopback, which only the embedded server lets the bench set up"
)
# Lambda sets these; no AWS call is made by the benchmarked routes.
AWS_DEFAULTS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def set_aws_defaults() -> None:
    """Set the AWS variables Lambda would, unless the environment has them."""
    for name, value in AWS_DEFAULTS.items():
        os.environ.setdefault(name, value)


@contextmanager
def seeded_database(name: str) -> Iterator[str]:
    """Database `name` with the bench's admin caller and seed users, for a side measurement.

    Yields the id of the user that `get_user` reads; the database is dropped afterwards.
    """
    set_aws_defaults()
    with database.seeded(
        name, email=ADMIN_EMAIL, subject=ADMIN_SUBJECT, users=SEED_USERS, target_email=TARGET_EMAIL
    ) as user_id:
        yield user_id


@dataclass(frozen=True)
class Plan:
    """How many samples each benchmark takes."""

    get_samples: int
    list_samples: int
    create_samples: int
    scaling_samples: int
    warmup: int
    cold_samples: int
    latency_samples: int

    def through_latency(self) -> Plan:
        """The warm path's plan for the pass through the latency proxy: fewer, slower calls."""
        fewer = self.latency_samples
        return replace(self, get_samples=fewer, list_samples=fewer, create_samples=fewer)

    def as_json(self) -> dict[str, int]:
        """The plan as recorded in results.json."""
        return dict(vars(self))


METHOD = {
    "figures": "median with p10/p90 (suffixes _p10, _p90) over _samples samples; _cpu_us: "
    "median CPU time of the calling thread per request (time.thread_time), waits left out",
    "warm": "in-process Lambda calls (event, context); one pass per pair, the app against the "
    "floor (app_*, floor_*) and against raw (app_beside_raw_*, raw_*), and on get_user the "
    "stack's floors against the floor (stack_*, floor_beside_stack_*; bare_stack_*, "
    "floor_beside_bare_stack_*) and the app against the bare stack (app_beside_bare_stack_*, "
    "bare_stack_beside_app_*: ratio_vs_bare_stack, cpu_ratio_vs_bare_stack), so no handler "
    "follows a third one's idle waits; in a pass the two take turns every round, who goes "
    "first alternating too; fresh event per call; GC on; the app's stdout (JSON logs, "
    "metrics) goes to .local/bench-app.log",
    "handlers": "app: lambda_app.handler; raw: bench.raw_handler, stock pg8000, the same "
    "statements as the app had (caller lookup, then the work); floor: bench.floor_handler, "
    "one statement per request in one exchange (SingleExchangeConnection); stack: "
    "bench.stack_handler, the floor's statement for get_user through SQLAlchemy on the app's "
    "engine behind FastAPI and Mangum, none of the app's own middleware or features; "
    "bare_stack: the same with no dependency and no response model (bench.stack_handler's "
    "bare_handler), the least this stack can do",
    "latency": "the warm path again, every handler connected through bench.latency_proxy, a "
    "TCP relay adding a fixed delay per direction; round_trip_added_us is the measured "
    "extra time of one SELECT 1 exchange through the relay",
    "cores": "with two or more cores, the handlers (and the cold starts' children) run on the "
    "first, the embedded PostgreSQL and the latency relay on the others (bench.cores)",
    "python_calls": "Python function calls per warm get_user (bench.calls, cProfile's count, "
    "20 requests after 2 untimed): the same on every machine with the pinned packages",
    "round_trips": "waits for PostgreSQL in one warm request (bench.round_trips: a read of "
    "the socket after a write); round_trip_sql lists the statements of each exchange",
    "cold_start": "python -m bench.cold_child per sample, kinds rotated per round, one unmeasured "
    "start each first (byte code caches); CLOCK_MONOTONIC (system-wide on Linux) read by "
    "the parent just before the spawn and by the child once the first response is built; "
    "app: DATABASE_URL; deployed: the app as on AWS without SnapStart (bench.deployed: an IAM "
    "token signed with the fake keys, TLS through local.tls_proxy verified against a test CA "
    "beside Amazon's roots); bare_stack: FastAPI, Mangum and SQLAlchemy on pg8000 without the "
    "app (bench.bare_stack_app); deployed.first_request_new_modules: the modules imported by "
    "the first request after a SnapStart init and the snapshot hooks (one unmeasured start); "
    "init_modules: the modules each kind's init imported",
    "list_scaling": "one database per size, ANALYZEd after loading; the database switches every "
    "25 calls (5 untimed after each switch), the app's pairs with raw and floor within",
}

# 40 cold starts per kind: with 20, the app and the deployed app (the same code) came out up
# to 0.12 apart in one run over the empty app, more than the noise the targets can bear.
FULL = Plan(1500, 600, 800, 400, 100, 40, 500)
QUICK = Plan(60, 40, 40, 30, 10, 3, 30)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument(
        "--cold-samples", type=_at_least_two, help="cold starts per kind, 2 or more (default 40)"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=latency_proxy.DEFAULT_DELAY_MS,
        help="delay per direction of the second warm pass (default 0.5)",
    )
    parser.add_argument("--output", type=Path, default=report.RESULTS_FILE)
    return parser.parse_args(argv)


def _at_least_two(text: str) -> int:
    """A sample count that a median and percentiles can be taken of."""
    count = int(text)
    if count < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 samples, not {count}")
    return count


def _handlers() -> dict[str, Handler]:
    """The app's real entry point and the floors; imported once DATABASE_URL is set."""
    from bench.floor_handler import handler as floor_handler
    from bench.raw_handler import handler as raw_handler
    from lambda_app.handler import handler as app_handler

    return {"app": app_handler, "raw": raw_handler, "floor": floor_handler}


def _stacks() -> dict[str, Handler]:
    """The stack's floors (`bench.stack_handler`), timed on `get_user` beside the floor."""
    from bench.stack_handler import bare_handler, handler

    return dict(zip(warm.STACKS, (handler, bare_handler), strict=True))


def _round_trips(caller: warm.Caller, user_id: str) -> dict[str, dict[str, list[str]]]:
    """Each handler's exchanges with PostgreSQL for one warm request of each route."""
    handlers = _handlers()
    return {
        "get_user": warm.round_trips(
            {**handlers, **_stacks()},
            warm.get_user_event(caller, user_id),
            expected_status=200,
        ),
        "list_users": warm.round_trips(
            handlers, warm.list_users_event(caller), expected_status=200
        ),
        "create_user": warm.round_trips(
            handlers, warm.create_user_event(caller), expected_status=201
        ),
    }


def _python_calls(caller: warm.Caller, user_id: str) -> dict[str, Any]:
    """Python calls per warm get_user of the app and the stacks: the timings' deterministic pair."""
    found = calls.warm_calls({**_handlers(), **_stacks()}, warm.get_user_event(caller, user_id))
    return {**found, "app_over_bare_stack": round(found["app"] - found[warm.BARE], 1)}


def _with_latency(
    plan: Plan,
    url: str,
    delay_ms: float,
    caller: warm.Caller,
    user_id: str,
    console: TextIO,
    split: cores.CoreSplit | None,
) -> dict[str, Any]:
    """The warm path again, every handler connected through the latency proxy."""
    relay_cores = split.servers if split is not None else None
    with handlers_through_latency(url, delay_ms, relay_cores) as proxied:
        added = latency_proxy.added_round_trip_us(url, proxied)
        console.write(f"warm path through the latency proxy (+{delay_ms} ms per direction)\n")
        timed = _warm(plan.through_latency(), caller, user_id, console)
    return {"delay_ms_per_direction": delay_ms, "round_trip_added_us": added, **timed}


@contextmanager
def handlers_through_latency(
    url: str, delay_ms: float, relay_cores: frozenset[int] | None = None
) -> Iterator[str]:
    """Point every handler at `url`'s database through the latency proxy; yield its URL."""
    parsed = make_url(url)
    target = (parsed.host or "127.0.0.1", parsed.port or 5432)
    with latency_proxy.running(*target, delay_ms, relay_cores) as (host, port):
        proxied = parsed.set(host=host, port=port).render_as_string(hide_password=False)
        database.point_handlers_at(proxied)
        try:
            yield proxied
        finally:
            database.point_handlers_at(url)


def _core_split(split: cores.CoreSplit | None, server_source: str) -> str:
    if split is None:
        return "all shared (one core, or no affinity API)"
    if server_source != "embedded":
        return f"{split.describe()} (the relay only: the server at BENCH_DATABASE_URL is not ours)"
    return split.describe()


def _warm(plan: Plan, caller: warm.Caller, user_id: str, console: TextIO) -> dict[str, Any]:
    handlers = _handlers()
    console.write("warm path: get_user, list_users, create_user\n")
    results: dict[str, Any] = {
        "get_user": warm.get_user(
            handlers,
            caller,
            user_id,
            stacks=_stacks(),
            samples=plan.get_samples,
            warmup=plan.warmup,
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


def _cold_starts(
    plan: Plan,
    server: database.BenchServer,
    event: dict[str, Any],
    console: TextIO,
    split: cores.CoreSplit | None,
) -> dict[str, Any]:
    """Cold starts of every kind; the deployed kind only where the bench runs the server."""
    if server.embedded is None:
        console.write(f"cold start: {plan.cold_samples} x app, bare_stack, raw, empty_fastapi\n")
        return cold_start.measure(
            event, samples=plan.cold_samples, not_deployed_reason=NOT_DEPLOYED
        ).as_json()
    console.write(
        f"cold start: {plan.cold_samples} x app, deployed, bare_stack, raw, empty_fastapi\n"
    )
    relay_cores = split.servers if split is not None else None
    with deployed_database(server.embedded, DATABASE_NAME, relay_cores) as deployed:
        return cold_start.measure(event, samples=plan.cold_samples, deployed=deployed).as_json()


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
    """Set up the bench database, run every benchmark, print the table, write the results.

    results.json gets the run; history.jsonl beside it gets its line when the plan is full.
    """
    started = time.monotonic()
    load_at_start = round(os.getloadavg()[0], 2)
    arguments = _arguments(argv)
    plan = QUICK if arguments.quick else FULL
    if arguments.cold_samples:
        plan = Plan(**{**plan.as_json(), "cold_samples": arguments.cold_samples})
    set_aws_defaults()
    server_source = (
        "BENCH_DATABASE_URL" if os.environ.get(database.SERVER_URL_VARIABLE) else "embedded"
    )
    APP_LOG.unlink(missing_ok=True)
    split = cores.plan()
    if split is not None:
        cores.run_on(split.servers)  # the embedded server starts on them and stays there
    with database.bench_server() as server:
        server_url = server.url
        if split is not None:
            cores.run_on(split.measured)  # the handlers, and the cold starts' children
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
                sql = _round_trips(caller, user_id)
                results["round_trips"] = {
                    route: {name: len(lines) for name, lines in found.items()}
                    for route, found in sql.items()
                }
                results["round_trip_sql"] = sql
                results["python_calls"] = {"get_user": _python_calls(caller, user_id)}
                results["latency"] = _with_latency(
                    plan, url, arguments.latency_ms, caller, user_id, console, split
                )
                event = http_api_event(
                    "GET", f"/users/{user_id}", subject=ADMIN_SUBJECT, email=ADMIN_EMAIL
                )
                results["cold_start"] = _cold_starts(plan, server, event, console, split)
                postgres_version = database.server_version(url)
                results["list_scaling"] = _scaling(plan, server_url, databases, console)
        finally:
            from bench import floor_handler, raw_handler
            from lambda_app.db import dispose_engine

            raw_handler.close_connection()
            floor_handler.close_connection()
            dispose_engine()
            for name in databases:
                database.drop_database(server_url, name)
    print("bundle: measuring build/lambda", flush=True)
    results["bundle_mb"] = bundle.measure()
    results["machine"] = machine.describe(postgres_version, server_source, load_at_start)
    results["machine"]["core_split"] = _core_split(split, server_source)
    results["plan"] = plan.as_json()
    results["method"] = METHOD
    results["targets"] = report.check_targets(results)
    results["wall_time_s"] = round(time.monotonic() - started, 1)
    report.write(results, arguments.output)
    print()
    print(report.table(results))
    # A smoke run (--quick, fewer samples) is no run to compare with the others.
    if plan != FULL:
        print(f"\nwrote {arguments.output}; a reduced plan adds no line to the history")
        return
    history_file = arguments.output.with_name(history.HISTORY_FILE.name)
    history.append(results, history_file)
    print(f"\nwrote {arguments.output}, added a line to {history_file}")

"""Warm-path benchmarks: the app's handler against each floor, interleaved, in this process."""

from __future__ import annotations

import itertools
import json
import statistics
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.database import point_handlers_at
from bench.events import http_api_event, lambda_context
from bench.round_trips import recording
from bench.timing import (
    EventFactory,
    Handler,
    Samples,
    Summary,
    summarize,
    time_interleaved,
    time_pairs,
)

LIST_ROWS = 100
# The stack's floors timed on get_user (bench.stack_handler): as the app uses it, and bare.
STACKS = ("stack", "bare_stack")
# The app and the bare stack in a pass of their own: the app's own work, as a ratio.
BARE = "bare_stack"
APP_BESIDE_BARE, BARE_BESIDE_APP = "app_beside_bare_stack", "bare_stack_beside_app"
SCALING_PAGE = 20
SCALING_BATCH = 25
SCALING_BATCH_WARMUP = 5


@dataclass(frozen=True)
class Caller:
    """Who the benchmark requests come from: the admin's subject and email."""

    subject: str
    email: str


@dataclass(frozen=True)
class Comparison:
    """Timings of one route: the app against each floor, one interleaved pass per pair.

    Keyed by handler: `app` and `floor` from their pass, `raw` and `app_beside_raw` (the
    app in raw's pass) from theirs; for `get_user` also each of the stack's floors
    (`bench.stack_handler`: `stack`, `bare_stack`) and the floor of its pass
    (`floor_beside_stack`, `floor_beside_bare_stack`), and the app and the bare stack in
    a pass of their own (`app_beside_bare_stack`, `bare_stack_beside_app`).
    """

    summaries: dict[str, Summary]
    cpu_medians: dict[str, float]

    @property
    def app(self) -> Summary:
        """The app's timings beside the new floor."""
        return self.summaries["app"]

    @property
    def ratio(self) -> float:
        """App's median over the raw floor's, both from their pass."""
        return self.summaries["app_beside_raw"].median / self.summaries["raw"].median

    def as_json(self) -> dict[str, Any]:
        """The fields of results.json for this route, medians and spreads in microseconds."""
        fields: dict[str, Any] = {}
        for name, summary in self.summaries.items():
            fields.update(summary.as_json(f"{name}_us"))
            fields[f"{name}_cpu_us"] = round(self.cpu_medians[name], 1)
        fields["ratio"] = round(self.ratio, 2)
        fields["ratio_vs_floor"] = round(self.app.median / self.summaries["floor"].median, 2)
        for name in STACKS:
            if name in self.summaries:
                stack, floor = self.summaries[name], self.summaries[f"floor_beside_{name}"]
                fields[f"ratio_{name}_vs_floor"] = round(stack.median / floor.median, 2)
        if APP_BESIDE_BARE in self.summaries:
            app, bare = self.summaries[APP_BESIDE_BARE], self.summaries[BARE_BESIDE_APP]
            fields["ratio_vs_bare_stack"] = round(app.median / bare.median, 2)
            app_cpu, bare_cpu = (self.cpu_medians[n] for n in (APP_BESIDE_BARE, BARE_BESIDE_APP))
            fields["cpu_ratio_vs_bare_stack"] = round(app_cpu / bare_cpu, 2)
        return fields


def _compare(
    handlers: dict[str, Handler],
    make_event: EventFactory,
    *,
    expected_status: int,
    samples: int,
    warmup: int,
    stacks: Mapping[str, Handler] | None = None,
) -> Comparison:
    timing = {"expected_status": expected_status, "samples": samples, "warmup": warmup}
    pairs = time_pairs(handlers, make_event, reference="app", **timing)
    # Each stack's floor in a pass of its own beside the floor, after the app's passes.
    stack_passes = {
        name: time_interleaved({name: stack, "floor": handlers["floor"]}, make_event, **timing)
        for name, stack in (stacks or {}).items()
    }
    beside_bare = None
    if stacks is not None and BARE in stacks:
        beside_bare = time_interleaved(
            {"app": handlers["app"], BARE: stacks[BARE]}, make_event, **timing
        )
    return compared(pairs, stack_passes, beside_bare)


def compared(
    pairs: dict[str, dict[str, Samples]],
    stack_passes: Mapping[str, dict[str, Samples]] | None = None,
    beside_bare: Mapping[str, Samples] | None = None,
) -> Comparison:
    """The comparison of the pairs' samples (`time_pairs`) and of the stacks' passes, if any.

    `beside_bare` is the pass of the app and the bare stack.
    """
    taken: dict[str, Samples] = {}
    for baseline, pair in pairs.items():
        taken[baseline] = pair[baseline]
        taken["app" if baseline == "floor" else f"app_beside_{baseline}"] = pair["app"]
    for name, stack_pass in (stack_passes or {}).items():
        taken[name], taken[f"floor_beside_{name}"] = stack_pass[name], stack_pass["floor"]
    if beside_bare is not None:
        taken[APP_BESIDE_BARE], taken[BARE_BESIDE_APP] = beside_bare["app"], beside_bare[BARE]
    return Comparison(
        {name: summarize(kept.wall) for name, kept in taken.items()},
        {name: statistics.median(kept.cpu) for name, kept in taken.items()},
    )


def get_user_event(caller: Caller, user_id: str) -> EventFactory:
    """`GET /users/{id}` of another user than the caller.

    Not the caller's own record: the app's ORM session would find that one in its identity
    map, loaded by the caller lookup, and skip the query the floor has to run.
    """

    def event() -> dict[str, Any]:
        return http_api_event(
            "GET", f"/users/{user_id}", subject=caller.subject, email=caller.email
        )

    return event


def list_users_event(caller: Caller, limit: int = LIST_ROWS) -> EventFactory:
    """`GET /users?limit=...`."""

    def event() -> dict[str, Any]:
        return http_api_event(
            "GET", "/users", query={"limit": str(limit)}, subject=caller.subject, email=caller.email
        )

    return event


def create_user_event(caller: Caller) -> EventFactory:
    """`POST /users` with a new email every call; the rows stay (the table grows)."""
    run = uuid.uuid4().hex[:8]
    numbers = itertools.count()

    def event() -> dict[str, Any]:
        body = {"email": f"Bench-{run}-{next(numbers)}@Example.com", "full_name": "Bench User"}
        return http_api_event(
            "POST", "/users", body=body, subject=caller.subject, email=caller.email
        )

    return event


def get_user(
    handlers: dict[str, Handler],
    caller: Caller,
    user_id: str,
    *,
    stacks: Mapping[str, Handler],
    samples: int,
    warmup: int,
) -> Comparison:
    """Time `GET /users/{id}` of another user than the caller; the stacks too, beside the floor."""
    event = get_user_event(caller, user_id)
    return _compare(
        handlers, event, expected_status=200, samples=samples, warmup=warmup, stacks=stacks
    )


def list_users(
    handlers: dict[str, Handler],
    caller: Caller,
    *,
    limit: int = LIST_ROWS,
    samples: int,
    warmup: int,
) -> Comparison:
    """Time `GET /users?limit=...`; the table must hold at least `limit` users."""
    event = list_users_event(caller, limit)
    for name, handler in handlers.items():
        page = json.loads(handler(event(), None)["body"])
        if len(page["items"]) != limit:
            raise RuntimeError(f"{name} listed {len(page['items'])} users, not {limit}")
    return _compare(handlers, event, expected_status=200, samples=samples, warmup=warmup)


def create_user(
    handlers: dict[str, Handler], caller: Caller, *, samples: int, warmup: int
) -> Comparison:
    """Time `POST /users` with a new email every call."""
    event = create_user_event(caller)
    return _compare(handlers, event, expected_status=201, samples=samples, warmup=warmup)


def round_trips(
    handlers: dict[str, Handler], make_event: EventFactory, *, expected_status: int
) -> dict[str, list[str]]:
    """The exchanges with PostgreSQL of one warm request per handler, one line each."""
    found: dict[str, list[str]] = {}
    for name, handler in handlers.items():
        handler(make_event(), lambda_context())  # connection open, caches warm
        with recording() as recorded:
            response = handler(make_event(), lambda_context())
        if response["statusCode"] != expected_status:
            raise RuntimeError(f"{name} answered {response['statusCode']}, not {expected_status}")
        found[name] = recorded.describe()
    return found


def list_scaling(
    handlers: dict[str, Handler],
    caller: Caller,
    databases: dict[int, str],
    *,
    samples: int,
    batch: int = SCALING_BATCH,
    warmup: int = SCALING_BATCH_WARMUP,
) -> dict[int, Comparison]:
    """`GET /users?limit=20` on databases of different sizes, switching database every batch.

    `databases` maps a user count to the URL of a database holding that many users. Each
    switch reconnects the handlers, then `warmup` untimed calls per pass refill caches.
    """
    baselines = [name for name in handlers if name != "app"]
    timings = {
        size: {baseline: {"app": Samples(), baseline: Samples()} for baseline in baselines}
        for size in databases
    }

    def event() -> dict[str, Any]:
        return http_api_event(
            "GET",
            "/users",
            query={"limit": str(SCALING_PAGE)},
            subject=caller.subject,
            email=caller.email,
        )

    sizes = list(databases)
    for round_index in range(-(-samples // batch)):
        for size in sizes if round_index % 2 == 0 else sizes[::-1]:
            point_handlers_at(databases[size])
            for name, handler in handlers.items():
                total = json.loads(handler(event(), None)["body"])["total"]
                if total != size:
                    raise RuntimeError(f"{name} sees {total} users, not {size}")
            pairs = time_pairs(
                handlers,
                event,
                reference="app",
                expected_status=200,
                samples=batch,
                warmup=warmup,
            )
            for baseline, pair in pairs.items():
                for name, kept in pair.items():
                    timings[size][baseline][name].wall.extend(kept.wall)
                    timings[size][baseline][name].cpu.extend(kept.cpu)
    return {size: compared(taken) for size, taken in timings.items()}

"""Warm-path benchmarks: the app's handler and the raw floor, interleaved, in this process."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.database import point_handlers_at
from bench.events import http_api_event
from bench.timing import Handler, Summary, summarize, time_interleaved

LIST_ROWS = 100
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
    """App and raw timings of one route, measured interleaved in the same run."""

    app: Summary
    raw: Summary

    @property
    def ratio(self) -> float:
        """App's median over raw's median."""
        return self.app.median / self.raw.median

    def as_json(self) -> dict[str, Any]:
        """The fields of results.json for this route, medians and spreads in microseconds."""
        return {
            **self.app.as_json("app_us"),
            **self.raw.as_json("raw_us"),
            "ratio": round(self.ratio, 2),
        }


def _compare(
    handlers: dict[str, Handler],
    make_event: Callable[[], dict[str, Any]],
    *,
    expected_status: int,
    samples: int,
    warmup: int,
) -> Comparison:
    timings = time_interleaved(
        handlers, make_event, expected_status=expected_status, samples=samples, warmup=warmup
    )
    return Comparison(app=summarize(timings["app"]), raw=summarize(timings["raw"]))


def get_user(
    handlers: dict[str, Handler], caller: Caller, user_id: str, *, samples: int, warmup: int
) -> Comparison:
    """`GET /users/{id}` of another user than the caller.

    Not the caller's own record: the app's ORM session would find that one in its identity
    map, loaded by the caller lookup, and skip the query the floor has to run.
    """

    def event() -> dict[str, Any]:
        return http_api_event(
            "GET", f"/users/{user_id}", subject=caller.subject, email=caller.email
        )

    return _compare(handlers, event, expected_status=200, samples=samples, warmup=warmup)


def list_users(
    handlers: dict[str, Handler],
    caller: Caller,
    *,
    limit: int = LIST_ROWS,
    samples: int,
    warmup: int,
) -> Comparison:
    """`GET /users?limit=...`; the table must hold at least `limit` users."""

    def event() -> dict[str, Any]:
        return http_api_event(
            "GET", "/users", query={"limit": str(limit)}, subject=caller.subject, email=caller.email
        )

    for name, handler in handlers.items():
        page = json.loads(handler(event(), None)["body"])
        if len(page["items"]) != limit:
            raise RuntimeError(f"{name} listed {len(page['items'])} users, not {limit}")
    return _compare(handlers, event, expected_status=200, samples=samples, warmup=warmup)


def create_user(
    handlers: dict[str, Handler], caller: Caller, *, samples: int, warmup: int
) -> Comparison:
    """`POST /users` with a new email every call; the rows stay (the table grows)."""
    run = uuid.uuid4().hex[:8]
    numbers = itertools.count()

    def event() -> dict[str, Any]:
        body = {"email": f"Bench-{run}-{next(numbers)}@Example.com", "full_name": "Bench User"}
        return http_api_event(
            "POST", "/users", body=body, subject=caller.subject, email=caller.email
        )

    return _compare(handlers, event, expected_status=201, samples=samples, warmup=warmup)


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
    switch reconnects both handlers, then `warmup` untimed calls per batch refill caches.
    """
    timings: dict[int, dict[str, list[float]]] = {
        size: {name: [] for name in handlers} for size in databases
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
            taken = time_interleaved(
                handlers, event, expected_status=200, samples=batch, warmup=warmup
            )
            for name, kept in taken.items():
                timings[size][name].extend(kept)
    return {
        size: Comparison(app=summarize(taken["app"]), raw=summarize(taken["raw"]))
        for size, taken in timings.items()
    }

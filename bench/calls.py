"""Python function calls per request: a deterministic measure of a handler's own work.

With the pinned packages a warm request makes the same calls on every machine, loaded or
not: a timing's companion that tests can assert (`tests/bench/test_app_work.py`).
"""

from __future__ import annotations

import cProfile
import pstats
from typing import Any

from bench.events import lambda_context
from bench.timing import EventFactory, Handler

REQUESTS = 20
# Untimed requests first: the connection opens, and one-off work (a cold start's metrics
# line, say) is done.
WARMUP = 2


def calls_per_request(handler: Handler, events: list[dict[str, Any]]) -> float:
    """The Python function calls `handler` makes per event, over `events` (this thread)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for event in events:
        handler(event, lambda_context())
    profiler.disable()
    total: int = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
    return total / len(events)


def warm_calls(
    handlers: dict[str, Handler], make_event: EventFactory, *, requests: int = REQUESTS
) -> dict[str, float]:
    """Each handler's Python calls per warm request, after `WARMUP` untimed ones."""
    for handler in handlers.values():
        for _ in range(WARMUP):
            handler(make_event(), lambda_context())
    return {
        name: round(calls_per_request(handler, [make_event() for _ in range(requests)]), 1)
        for name, handler in handlers.items()
    }

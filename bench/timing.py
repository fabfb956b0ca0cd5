"""Interleaved timing of Lambda handlers and the summary of a set of samples."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.events import lambda_context

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
EventFactory = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Summary:
    """The median of a set of samples and its spread (10th, 90th and 99th percentiles)."""

    median: float
    p10: float
    p90: float
    p99: float
    samples: int

    def as_json(self, name: str) -> dict[str, Any]:
        """`{name: median, name_p10: ..., name_p90: ..., name_p99: ..., samples: n}`."""
        return {
            name: round(self.median, 1),
            f"{name}_p10": round(self.p10, 1),
            f"{name}_p90": round(self.p90, 1),
            f"{name}_p99": round(self.p99, 1),
            f"{name}_samples": self.samples,
        }


def summarize(samples: list[float]) -> Summary:
    """Median, 10th, 90th and 99th percentiles of `samples` (at least two)."""
    percentiles = statistics.quantiles(samples, n=100, method="inclusive")
    return Summary(
        median=statistics.median(samples),
        p10=percentiles[9],
        p90=percentiles[89],
        p99=percentiles[98],
        samples=len(samples),
    )


@dataclass
class Samples:
    """One handler's kept samples, in microseconds: wall time, and this thread's CPU time."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


class UnexpectedResponseError(RuntimeError):
    """A handler answered another status than the benchmark expects: timing it would lie."""


def time_interleaved(
    handlers: Mapping[str, Handler],
    make_event: EventFactory,
    *,
    expected_status: int,
    samples: int,
    warmup: int,
) -> dict[str, Samples]:
    """Call every handler `warmup + samples` times, alternating their order per round.

    Each call gets a fresh event and context, built outside the timed region. Returns the
    kept samples per handler name: wall time, and CPU time (the handler's own work, waits
    for PostgreSQL left out).
    """
    names = list(handlers)
    timings = {name: Samples() for name in names}
    gc.collect()
    for round_index in range(warmup + samples):
        # Alternate who goes first, so neither always runs right after the other.
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            event, context = make_event(), lambda_context()
            started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
            response = handlers[name](event, context)
            cpu, elapsed = time.thread_time_ns() - cpu_started, time.perf_counter_ns() - started
            if response["statusCode"] != expected_status:
                raise UnexpectedResponseError(
                    f"{name} answered {response['statusCode']}, not {expected_status}: "
                    f"{str(response.get('body'))[:300]}"
                )
            if round_index >= warmup:
                timings[name].wall.append(elapsed / 1000)
                timings[name].cpu.append(cpu / 1000)
    return timings


def time_pairs(
    handlers: Mapping[str, Handler],
    make_event: EventFactory,
    *,
    reference: str,
    expected_status: int,
    samples: int,
    warmup: int,
) -> dict[str, dict[str, Samples]]:
    """Time `reference` against each other handler, one interleaved pass per pair.

    Returns, per other handler, the pass's samples of both. A pass holds only its pair: a
    request runs slower after its core sat idle (`bench.idle`), and the app, running far
    more code, pays more for it. In one pass of three, the app and the new floor would
    each follow the raw floor's six waits, an idle time neither of them causes.
    """
    return {
        name: time_interleaved(
            {reference: handlers[reference], name: handler},
            make_event,
            expected_status=expected_status,
            samples=samples,
            warmup=warmup,
        )
        for name, handler in handlers.items()
        if name != reference
    }

"""Cold starts: a fresh Python process per sample, from spawn to the first response."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cold_child import EVENT_VARIABLE, MARKER
from bench.timing import Summary, summarize

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("app", "raw", "empty_fastapi")
CHILD_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class ColdSample:
    """One cold start in milliseconds: in total, and its parts."""

    total_ms: float
    interpreter_ms: float  # spawn to the child's first line: exec, interpreter, site
    init_ms: float  # importing the handler module: what Lambda's init phase runs
    first_request_ms: float  # the first call: connection opened inside


@dataclass(frozen=True)
class ColdStarts:
    """Cold-start summaries per kind (app, raw, empty_fastapi), in milliseconds."""

    totals: dict[str, Summary]
    parts: dict[str, dict[str, float]]

    def as_json(self) -> dict[str, Any]:
        """The `cold_start` fields of results.json."""
        fields: dict[str, Any] = {}
        for kind in KINDS:
            fields.update(self.totals[kind].as_json(f"{kind}_ms"))
        ratio = self.totals["app"].median / self.totals["empty_fastapi"].median
        fields["ratio_vs_empty_fastapi"] = round(ratio, 2)
        fields["parts_median_ms"] = self.parts
        return fields


def _child_environment(event: dict[str, Any]) -> dict[str, str]:
    environment = dict(os.environ)
    environment[EVENT_VARIABLE] = json.dumps(event)
    # The Lambda bundle ships byte code; the warm-up run writes it here, so always read it.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment.pop("PYTHONPROFILEIMPORTTIME", None)
    return environment


def spawn_once(kind: str, environment: dict[str, str]) -> ColdSample:
    """Start `python -m bench.cold_child kind` and time it from just before the spawn."""
    spawned_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    result = subprocess.run(
        [sys.executable, "-m", "bench.cold_child", kind],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"cold start of {kind} failed: {result.stderr[-2000:]}")
    report = json.loads(lines[-1][len(MARKER) :])
    if report["status"] != 200:
        raise RuntimeError(f"cold start of {kind} answered {report['status']}: {result.stdout}")
    return ColdSample(
        total_ms=(report["answered_ns"] - spawned_ns) / 1e6,
        interpreter_ms=(report["started_ns"] - spawned_ns) / 1e6,
        init_ms=(report["initialised_ns"] - report["imported_ns"]) / 1e6,
        first_request_ms=(report["answered_ns"] - report["initialised_ns"]) / 1e6,
    )


def measure(event: dict[str, Any], *, samples: int) -> ColdStarts:
    """Cold-start each kind `samples` times, rotating the order every round.

    One unmeasured start per kind first writes the byte code caches.
    """
    environment = _child_environment(event)
    for kind in KINDS:
        spawn_once(kind, environment)
    taken: dict[str, list[ColdSample]] = {kind: [] for kind in KINDS}
    for round_index in range(samples):
        shift = round_index % len(KINDS)
        for kind in KINDS[shift:] + KINDS[:shift]:
            taken[kind].append(spawn_once(kind, environment))
    totals = {kind: summarize([s.total_ms for s in taken[kind]]) for kind in KINDS}
    parts = {
        kind: {
            name: round(summarize([getattr(s, name) for s in taken[kind]]).median, 1)
            for name in ("interpreter_ms", "init_ms", "first_request_ms")
        }
        for kind in KINDS
    }
    return ColdStarts(totals=totals, parts=parts)

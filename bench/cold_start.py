"""Cold starts: a fresh Python process per sample, from spawn to the first response.

Kinds: `app` (a plain `DATABASE_URL`), `deployed` (the app as deployed: an IAM token login
over TLS, `bench.deployed`), `bare_stack` (the stack without the app, `bench.bare_stack_app`),
`raw` and `empty_fastapi`. All answer the same event.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cold_child import EVENT_VARIABLE, INITIALIZATION_TYPE, MARKER, SNAP_START
from bench.timing import Summary, summarize

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BASE_KINDS = ("app", "bare_stack", "raw", "empty_fastapi")
DEPLOYED = "deployed"
ON_DEMAND = "on-demand"  # Lambda's initialization type without SnapStart
PARTS = ("interpreter_ms", "init_ms", "first_request_ms")
CHILD_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class ColdSample:
    """One cold start in milliseconds: in total, and its parts; the modules the request loaded."""

    total_ms: float
    interpreter_ms: float  # spawn to the child's first line: exec, interpreter, site
    init_ms: float  # importing the handler module: what Lambda's init phase runs
    first_request_ms: float  # the first call: connection opened inside
    init_modules: int  # modules the init imported (deterministic)
    first_request_modules: tuple[str, ...]


@dataclass(frozen=True)
class ColdStarts:
    """Cold-start summaries per kind, in milliseconds, and the deployed path's imports."""

    totals: dict[str, Summary]
    parts: dict[str, dict[str, float]]
    # The modules each kind's init imported (the same in every sample).
    init_modules: dict[str, int]
    # The modules the deployed app's first request imports, after a SnapStart init and
    # restore, and after an on-demand init; None when the deployed kind was not run.
    deployed_modules: dict[str, list[str]] | None
    not_deployed_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The `cold_start` fields of results.json."""
        fields: dict[str, Any] = {}
        for kind, summary in self.totals.items():
            fields.update(summary.as_json(f"{kind}_ms"))
        empty = self.totals["empty_fastapi"].median
        fields["ratio_vs_empty_fastapi"] = round(self.totals["app"].median / empty, 2)
        # No target: what the stack alone takes, over the same empty app.
        bare_stack = self.totals["bare_stack"].median
        fields["ratio_bare_stack_vs_empty_fastapi"] = round(bare_stack / empty, 2)
        fields["parts_median_ms"] = self.parts
        fields["init_modules"] = self.init_modules
        if self.deployed_modules is None:
            fields[DEPLOYED] = {"measured": False, "reason": self.not_deployed_reason}
            return fields
        modules = self.deployed_modules
        snap_start, on_demand = modules[SNAP_START], modules[ON_DEMAND]
        fields[DEPLOYED] = {
            "measured": True,
            "ratio_vs_empty_fastapi": round(self.totals[DEPLOYED].median / empty, 2),
            "first_request_new_modules": len(snap_start),
            "first_request_modules": snap_start,
            "first_request_new_modules_on_demand": len(on_demand),
            "first_request_modules_on_demand": on_demand,
        }
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
        init_modules=report["init_modules"],
        first_request_modules=tuple(report["first_request_modules"]),
    )


def measure(
    event: dict[str, Any],
    *,
    samples: int,
    deployed: dict[str, str] | None = None,
    not_deployed_reason: str | None = None,
) -> ColdStarts:
    """Cold-start each kind `samples` times, rotating the order every round.

    `deployed` holds the variables of the deployed configuration; without it that kind is
    left out. One unmeasured start per kind first writes the byte code caches; for the
    deployed kind a SnapStart init (hooks included) before it counts the modules that the
    first request after a restore imports.
    """
    environment = _child_environment(event)
    # Per kind: the child's handler, and its environment.
    children = {kind: (kind, environment) for kind in BASE_KINDS}
    deployed_modules = None
    if deployed is not None:
        # The deployed app has no DATABASE_URL: it logs in with a token, as on AWS.
        plain = {name: value for name, value in environment.items() if name != "DATABASE_URL"}
        children[DEPLOYED] = ("app", {**plain, **deployed})
        after_restore = {**plain, **deployed, INITIALIZATION_TYPE: SNAP_START}
        deployed_modules = {
            SNAP_START: list(spawn_once("app", after_restore).first_request_modules),
            ON_DEMAND: list(spawn_once(*children[DEPLOYED]).first_request_modules),
        }
    kinds = list(children)
    for kind in kinds:
        spawn_once(*children[kind])
    taken: dict[str, list[ColdSample]] = {kind: [] for kind in kinds}
    for round_index in range(samples):
        shift = round_index % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            taken[kind].append(spawn_once(*children[kind]))
    totals = {kind: summarize([s.total_ms for s in taken[kind]]) for kind in kinds}
    parts = {
        kind: {
            name: round(summarize([getattr(s, name) for s in taken[kind]]).median, 1)
            for name in PARTS
        }
        for kind in kinds
    }
    init_modules = {kind: max(s.init_modules for s in taken[kind]) for kind in kinds}
    return ColdStarts(totals, parts, init_modules, deployed_modules, not_deployed_reason)

"""The figures block of docs/performance.md, from bench/results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report

SOURCE = "bench/results.json"
# A reader's name for each target of bench/report.py ({delay}: ms added per direction).
TARGET_LABELS = {
    "get_user.ratio": "`get_user`, app over raw pg8000 (one pass, no added latency)",
    "list_users.ratio": "`list_users` (a page of 100), app over raw pg8000",
    "create_user.ratio": "`create_user`, app over raw pg8000",
    "cold_start.ratio_vs_empty_fastapi": "cold start over empty FastAPI (plain URL)",
    "cold_start.deployed.ratio_vs_empty_fastapi": "deployed cold start over empty FastAPI",
    "cold_start.deployed.first_request_new_modules": (
        "modules the first request imports after a SnapStart restore"
    ),
    "list_scaling.growth": "`list_users` at 100,000 users over 1,000 users, app",
    "latency.get_user.ratio_vs_bare_stack": "`get_user` at +{delay} ms, app over bare",
    "latency.get_user.cpu_ratio_vs_bare_stack": "`get_user` CPU per request, app over bare",
    "round_trips.get_user.app": "round trips of `get_user`",
    "round_trips.list_users.app": "round trips of `list_users`",
    "round_trips.create_user.app": "round trips of `create_user`",
}
PYTHON_CALLS = (
    ("app", "app"),
    ("bare_stack", "bare stack"),
    ("stack", "stack"),
    ("floor", "floor"),
)
INIT_MODULES = {"bare_stack": "bare stack", "empty_fastapi": "empty FastAPI"}


def _verdict(target: dict[str, Any]) -> str:
    if target["value"] is None:
        return "not measured"
    return "met" if target["met"] else "missed"


def targets_table(results: dict[str, Any]) -> str:
    """`| target | limit | value | met |`, one row per target of bench/report.py."""
    delay = results.get("latency", {}).get("delay_ms_per_direction", 0.5)
    lines = ["| target | limit | value | met |", "| --- | ---: | ---: | --- |"]
    for path, target in report.check_targets(results).items():
        label = TARGET_LABELS[path].format(delay=f"{delay:g}")
        value = "-" if target["value"] is None else f"{target['value']:g}"
        lines.append(f"| {label} | {target['limit']:g} | {value} | {_verdict(target)} |")
    return "\n".join(lines)


def identity(results: dict[str, Any]) -> str:
    """One line: when, at which commit and on what the run was measured."""
    machine = results["machine"]
    commit = f" at `{machine['commit']}`" if machine.get("commit") else ""
    server = f" ({machine['postgresql_server']})" if machine.get("postgresql_server") else ""
    line = (
        f"`make bench` of {machine['date'][:10]}{commit}: {machine['cpu']}, "
        f"{machine['cores']} cores, {machine['python']}, PostgreSQL {machine['postgresql']}{server}"
    )
    load = machine.get("load_average_1min")
    if load:
        line += (
            f"; 1-minute load average {load['start']:g} at the start, {load['end']:g} at the end"
        )
    return line + "."


def counts(results: dict[str, Any]) -> list[str]:
    """The counts that do not depend on the machine: Python calls and modules at init."""
    lines = []
    calls = results.get("python_calls", {}).get("get_user")
    if calls:
        each = ", ".join(f"{label} {calls[key]:,.0f}" for key, label in PYTHON_CALLS)
        lines.append(
            f"- Python calls per warm `get_user`: {each} "
            f"(app over bare stack: {calls['app_over_bare_stack']:,.0f})."
        )
    modules = results.get("cold_start", {}).get("init_modules")
    if modules:
        kinds = [kind for kind in report.COLD_KINDS if kind in modules]
        each = ", ".join(f"{INIT_MODULES.get(kind, kind)} {modules[kind]:,}" for kind in kinds)
        lines.append(f"- Modules imported at init: {each}.")
    return lines


def figures(results: dict[str, Any]) -> str:
    """Targets, the run's identity, the tables `make bench` prints, and the counts."""
    parts = [targets_table(results), identity(results), f"```text\n{report.table(results)}\n```"]
    found = counts(results)
    if found:
        parts.append("\n".join(found))
    return "\n\n".join(parts)


def render(path: Path = report.RESULTS_FILE) -> str:
    """The block's text from the results file."""
    return figures(json.loads(path.read_text()))

"""The appendix table of docs/performance.md: every recorded run, newest first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import history

SOURCE = "bench/history.jsonl"
# The column of each ratio bench/history.py records.
RATIO_HEADERS = {
    "get_user": "get_user vs raw",
    "list_users": "list_users vs raw",
    "create_user": "create_user vs raw",
    "cold_start": "cold start vs empty",
    "deployed_cold_start": "deployed cold start vs empty",
    "bare_stack_cold_start": "bare stack cold start vs empty",
    "latency_get_user_vs_bare_stack": "get_user at +0.5 ms vs bare",
    "latency_cpu_vs_bare_stack": "get_user CPU vs bare",
}


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def table(records: list[dict[str, Any]]) -> str:
    """`| date | commit | machine | load | ratios... |`, newest first."""
    headers = ["date", "commit", "CPU", "cores", "Python", "load at start / end"]
    headers += [RATIO_HEADERS[key] for key in history.RATIOS]
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    for run in sorted(records, key=lambda run: run.get("date") or "", reverse=True):
        load = run.get("load_average_1min")
        cells = [
            (run.get("date") or "-")[:16].replace("T", " "),
            f"`{run['commit']}`" if run.get("commit") else "-",
            _cell(run.get("cpu")),
            _cell(run.get("cores")),
            _cell(run.get("python")),
            f"{_cell(load['start'])} / {_cell(load['end'])}" if load else "-",
        ]
        cells += [_cell(run.get("ratios", {}).get(key)) for key in history.RATIOS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(path: Path = history.HISTORY_FILE) -> str:
    """The block's text from the history file."""
    return table(history.read(path))

"""bench/history.jsonl: one line per `make bench` run, the headline ratios and the machine.

`python -m bench.history --seed` rebuilt it once from the git history of bench/results.json;
every run of `python -m bench` appends its own line (`append`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HISTORY_FILE = Path(__file__).resolve().parent / "history.jsonl"
# Record key: where results.json keeps the ratio (absent in older versions: null).
RATIOS = {
    "get_user": "get_user.ratio",
    "list_users": "list_users.ratio",
    "create_user": "create_user.ratio",
    "cold_start": "cold_start.ratio_vs_empty_fastapi",
    "deployed_cold_start": "cold_start.deployed.ratio_vs_empty_fastapi",
    "bare_stack_cold_start": "cold_start.ratio_bare_stack_vs_empty_fastapi",
    "latency_get_user_vs_bare_stack": "latency.get_user.ratio_vs_bare_stack",
    "latency_cpu_vs_bare_stack": "latency.get_user.cpu_ratio_vs_bare_stack",
}


def _at(results: dict[str, Any], path: str) -> Any:
    value: Any = results
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def record(results: dict[str, Any], commit: str | None) -> dict[str, Any]:
    """The history line of one run's results."""
    machine = results.get("machine", {})
    return {
        "date": machine.get("date"),
        "commit": commit,
        "cpu": machine.get("cpu"),
        "cores": machine.get("cores"),
        "python": machine.get("python"),
        "postgresql": machine.get("postgresql"),
        "load_average_1min": machine.get("load_average_1min"),
        "ratios": {name: _at(results, path) for name, path in RATIOS.items()},
    }


def append(results: dict[str, Any], path: Path = HISTORY_FILE) -> None:
    """Add the run's line to the history (its commit as bench.machine recorded it)."""
    line = json.dumps(record(results, results.get("machine", {}).get("commit")))
    with path.open("a") as history:
        history.write(line + "\n")


def read(path: Path = HISTORY_FILE) -> list[dict[str, Any]]:
    """Every recorded run, oldest first."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _git(*arguments: str) -> str:
    git = shutil.which("git") or "git"
    return subprocess.run(
        [git, *arguments], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout


def seeded() -> list[dict[str, Any]]:
    """A line per committed version of bench/results.json that checked targets, oldest first."""
    lines = []
    for commit in reversed(_git("log", "--format=%h", "--", "bench/results.json").split()):
        results = json.loads(_git("show", f"{commit}:bench/results.json"))
        if "targets" in results or "get_user" in results:
            lines.append(record(results, commit))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument(
        "--seed", action="store_true", help="rewrite the file from git (replaces its lines)"
    )
    if parser.parse_args(argv).seed:
        HISTORY_FILE.write_text("".join(json.dumps(line) + "\n" for line in seeded()))
        print(f"wrote {HISTORY_FILE}")
    else:
        parser.print_help()


if __name__ == "__main__":
    main()

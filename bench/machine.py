"""The machine and software a run measured: CPU, cores, Python, PostgreSQL, packages, commit."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = ("fastapi", "starlette", "mangum", "pydantic", "sqlalchemy", "pg8000")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or the platform's processor string."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def current_commit() -> str | None:
    """`git rev-parse --short HEAD` of the project, or None outside a git checkout."""
    git = shutil.which("git")
    if git is None:
        return None
    found = subprocess.run(
        [git, "rev-parse", "--short", "HEAD"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


def describe(postgres_version: str, postgres_source: str, load_at_start: float) -> dict[str, Any]:
    """Everything a reader needs to compare this run with another.

    The load averages tell whether something else ran meanwhile (a noisy run).
    """
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": current_commit(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "postgresql": postgres_version,
        "postgresql_server": postgres_source,
        "packages": {name: _package_version(name) for name in PACKAGES},
        "load_average_1min": {"start": load_at_start, "end": round(os.getloadavg()[0], 2)},
    }

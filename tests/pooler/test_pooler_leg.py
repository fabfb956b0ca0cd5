"""Without pgbouncer the suite says, in one line, that its leg was skipped; CI can require it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from local.pgbouncer import EXECUTABLE, INSTALL_HINT

ROOT = Path(__file__).resolve().parents[2]
# A test that needs neither PostgreSQL nor PgBouncer: the run is about the report around it.
CHEAP_TEST = "tests/pooler/test_pinning_guard.py::test_a_named_protocol_level_statement_is_flagged"


def run_pytest_without_pgbouncer(**env: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and not (Path(folder) / EXECUTABLE).exists()
    )
    environment = {**os.environ, "PATH": path, "REQUIRE_PGBOUNCER": "", **env}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", CHEAP_TEST],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_pgbouncer_the_run_passes_and_says_so_in_one_line() -> None:
    result = run_pytest_without_pgbouncer()

    notes = [line for line in result.stdout.splitlines() if "PgBouncer leg skipped" in line]
    assert result.returncode == 0, result.stdout[-2000:]
    assert len(notes) == 1
    assert INSTALL_HINT in notes[0]


def test_without_pgbouncer_a_run_that_requires_it_fails() -> None:
    result = run_pytest_without_pgbouncer(REQUIRE_PGBOUNCER="1")

    assert result.returncode != 0
    assert f"REQUIRE_PGBOUNCER=1 but pgbouncer is not on PATH: {INSTALL_HINT}" in result.stderr

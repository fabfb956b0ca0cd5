"""Where the suite finds pgbouncer; without it the run says so in one line; CI can require it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local import pgbouncer
from local.pgbouncer import EXECUTABLE, EXECUTABLE_VARIABLE, INSTALL_HINT

ROOT = Path(__file__).resolve().parents[2]
# A test that needs neither PostgreSQL nor PgBouncer: the run is about the report around it.
CHEAP_TEST = "tests/pooler/test_pinning_guard.py::test_a_named_protocol_level_statement_is_flagged"


def run_pytest_without_pgbouncer(**env: str) -> subprocess.CompletedProcess[str]:
    # The sbin folders are searched whatever PATH says: name an executable that is not there.
    missing = str(ROOT / ".local" / "no-such-pgbouncer")
    environment = {**os.environ, EXECUTABLE_VARIABLE: missing, "REQUIRE_PGBOUNCER": "", **env}
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
    assert "REQUIRE_PGBOUNCER=1 but pgbouncer was not found" in result.stderr
    assert INSTALL_HINT in result.stderr


def fake_executable(folder: Path) -> Path:
    """A file named like pgbouncer that the lookup takes for it: executable, never run here."""
    folder.mkdir()
    executable = folder / EXECUTABLE
    executable.write_text("#!/bin/sh\nexit 1\n")
    executable.chmod(0o755)
    return executable


def test_pgbouncer_off_path_is_found_in_an_sbin_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = fake_executable(tmp_path / "sbin")
    monkeypatch.setattr(pgbouncer, "SBIN_DIRECTORIES", (str(installed.parent),))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv(EXECUTABLE_VARIABLE, raising=False)

    assert pgbouncer.pgbouncer_path() == str(installed)


def test_the_pgbouncer_variable_names_the_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = fake_executable(tmp_path / "elsewhere")
    monkeypatch.setenv(EXECUTABLE_VARIABLE, str(chosen))

    assert pgbouncer.pgbouncer_path() == str(chosen)

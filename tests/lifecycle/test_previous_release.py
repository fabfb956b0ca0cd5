"""Expand/contract: the previous release's request path works on the schema at head.

During a deploy the old API version serves the new schema, and after a rollback it serves it
for as long as the rollback lasts. The previous release (see releases.find_previous_release) is
exported from git; its own API tests (tests/routers) run with this venv against a database
that the current migration brought to head.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from lambda_app.migrate import alembic_config
from tests.lifecycle.releases import ROOT, export_tree, find_previous_release

API_TESTS = "tests/routers"
OVERRIDE = Path(__file__).with_name("schema_at_head_conftest.py")
# A hung run fails the test instead of stalling the suite.
HANG_GUARD_SECONDS = 600
# Settings of this run that must not reach the release's own test session.
NOT_INHERITED = ("DATABASE_URL", "PYTHONPATH", "S3_BUCKET", "S3_ENDPOINT_URL", "PYTEST_ADDOPTS")


def test_the_previous_release_passes_its_api_tests_on_the_schema_at_head(
    tmp_path: Path, postgres_server_url: str, database_url: str
) -> None:
    release = find_previous_release()
    if release.commit is None:
        pytest.skip(f"no previous release to run: {release.reason}")
    tree = tmp_path / "previous"
    export_tree(release.commit, tree)
    if not (tree / API_TESTS).is_dir():
        pytest.skip(f"the previous release, {release.describe()}, has no {API_TESTS}")
    conftest = tree / API_TESTS / "conftest.py"
    with conftest.open("a") as appended:
        appended.write("\n" + OVERRIDE.read_text())
    report = tmp_path / "schema_at_head.json"
    environment = {
        **{name: value for name, value in os.environ.items() if name not in NOT_INHERITED},
        "TEST_DATABASE_URL": postgres_server_url,
        "CURRENT_RELEASE_ROOT": str(ROOT),
        "SCHEMA_AT_HEAD_REPORT": str(report),
    }

    run = subprocess.run(
        [sys.executable, "-m", "pytest", API_TESTS, "-q", "-p", "no:cacheprovider"],
        cwd=tree,
        env=environment,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )

    summary = f"previous release {release.describe()}:\n{run.stdout[-4000:]}{run.stderr[-2000:]}"
    assert run.returncode == 0, summary
    assert " passed" in run.stdout.splitlines()[-1], summary
    migrated = json.loads(report.read_text())
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert migrated["module"].startswith(str(ROOT / "lambda_app"))
    assert migrated["result"]["after"] == head

"""`.env.example` lists every setting with its default; `.env` is read locally, never committed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_app.config import Settings
from tools import settings_doc

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / ".env.example"
SETTING_LINE = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$")


def _environment_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else field.upper()


def _every_name(field: str) -> list[str]:
    choices = getattr(Settings.model_fields[field].validation_alias, "choices", None)
    return [str(choice) for choice in choices] if choices else [field.upper()]


def _listed() -> dict[str, str]:
    lines = (SETTING_LINE.match(line) for line in EXAMPLE.read_text().splitlines())
    return {match[1]: match[2] for match in lines if match}


def test_env_example_lists_exactly_the_settings() -> None:
    listed = _listed()
    expected = {_environment_name(field) for field in Settings.model_fields}
    assert set(listed) == expected, (
        f"missing: {sorted(expected - set(listed))}, unknown: {sorted(set(listed) - expected)}"
    )


def test_env_example_is_what_make_docs_writes() -> None:
    assert EXAMPLE.read_text() == settings_doc.env_example(), (
        ".env.example is stale: run `make docs` (it is generated from lambda_app/config.py)"
    )


def test_env_example_shows_each_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for field in Settings.model_fields:
        for name in _every_name(field):
            monkeypatch.delenv(name, raising=False)
    uncommented = tmp_path / ".env"
    uncommented.write_text("".join(f"{k}={v}\n" for k, v in _listed().items() if v))
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert Settings(_env_file=uncommented) == defaults  # type: ignore[call-arg]
    unset = {name for name, value in _listed().items() if not value}
    assert unset == {
        _environment_name(field)
        for field, value in defaults.model_dump().items()
        if value is None or value == ""
    }


def test_settings_read_a_dot_env_in_the_working_folder(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=WARNING\nMETRICS_NAMESPACE=FromDotEnv\n")
    read = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lambda_app.config import Settings; s = Settings(); "
            "print(s.log_level, s.metrics_namespace)",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "METRICS_NAMESPACE": "FromEnv"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    # The environment wins over .env.
    assert read.stdout.split() == ["WARNING", "FromEnv"]


def test_dot_env_is_git_ignored() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        check = subprocess.run([git, "check-ignore", "--quiet", path], cwd=ROOT, check=False)
        return check.returncode == 0

    assert ignored(".env")
    assert ignored("lambda_app/.env")
    assert not ignored(".env.example")

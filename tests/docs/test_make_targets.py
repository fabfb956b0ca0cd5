"""Every `make` command the docs mention names a target, and `make help` runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tools import make_targets, markdown

ROOT = Path(__file__).resolve().parents[2]
# `make [-flags] [VAR=value ...] target`: the target is the first word that is neither.
MAKE_COMMAND = re.compile(
    r"(?<![\w./-])make\s+(?:(?:-\S+|[A-Z_][A-Z0-9_]*=\S*)\s+)*([a-z][a-z0-9_-]*)"
)


def mentioned_targets(text: str) -> set[str]:
    """The targets of every `make` command in the code spans and blocks of `text`."""
    return {target for code in markdown.code(text) for target in MAKE_COMMAND.findall(code)}


def test_the_command_pattern_reads_flags_and_variables() -> None:
    text = (
        "`make run`, `make -s token`, `make load READER=1`, `make deploy STAGE=prod`\n"
        "```sh\nTOKEN=$(make -s token USER_TYPE=admin)  # make sure of it\nmake_url()\n```\n"
    )
    assert mentioned_targets(text) == {"run", "token", "load", "deploy"}


def test_every_make_target_the_docs_mention_exists() -> None:
    defined = make_targets.defined(ROOT / "Makefile")
    unknown = {
        f"{path.relative_to(ROOT)}: make {target}"
        for path in markdown.markdown_files(ROOT)
        for target in mentioned_targets(path.read_text())
        if target not in defined
    }
    assert not unknown, sorted(unknown)


def test_make_help_lists_the_main_targets() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not installed")
    listed = subprocess.run(
        [make, "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    assert {"run", "test", "deploy"} <= names

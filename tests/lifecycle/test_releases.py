"""Which previous release the expand/contract test runs, on small repositories made here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lifecycle.releases import find_previous_release

GIT = shutil.which("git") or "git"
IDENTITY = ("-c", "user.name=Test", "-c", "user.email=test@example.com")


def git(repository: Path, *arguments: str) -> str:
    done = subprocess.run(
        [GIT, "-C", str(repository), *IDENTITY, *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def commit(repository: Path, path: str) -> str:
    """Commit a change to `path` and return the commit's id."""
    file = repository / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(f"{file.read_text() if file.exists() else ''}change\n")
    git(repository, "add", path)
    git(repository, "commit", "--quiet", "-m", f"change {path}")
    return git(repository, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path: Path) -> dict[str, str]:
    """first schema, a release on it, the newest schema change, work after it."""
    repository = tmp_path / "repository"
    repository.mkdir()
    git(repository, "init", "--quiet", "--initial-branch=main")
    return {
        "first_schema": commit(repository, "migrations/0001.py"),
        "release": commit(repository, "lambda_app/main.py"),
        "schema_change": commit(repository, "migrations/0002.py"),
        "head": commit(repository, "lambda_app/main.py"),
        "root": str(repository),
    }


def test_without_tags_it_is_the_last_commit_before_the_newest_schema_change(
    history: dict[str, str],
) -> None:
    release = find_previous_release(Path(history["root"]))

    assert release.commit == history["release"]
    assert history["schema_change"][:7] in release.reason


def test_the_merge_base_with_the_last_release_tag_comes_first(history: dict[str, str]) -> None:
    root = Path(history["root"])
    git(root, "tag", "v1", history["first_schema"])

    assert find_previous_release(root).commit == history["first_schema"]


def test_of_several_tags_the_newest_counts(history: dict[str, str]) -> None:
    root = Path(history["root"])
    git(root, "tag", "v1.9", history["first_schema"])
    git(root, "tag", "v1.10", history["schema_change"])

    assert find_previous_release(root).commit == history["schema_change"]


def test_a_tag_on_head_itself_is_the_release_being_made_not_the_previous_one(
    history: dict[str, str],
) -> None:
    root = Path(history["root"])
    git(root, "tag", "v2", history["head"])

    assert find_previous_release(root).commit == history["release"]


def test_a_shallow_clone_names_its_reason(history: dict[str, str], tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{history['root']}", str(clone))

    release = find_previous_release(clone)

    assert release.commit is None
    assert "shallow" in release.reason
    assert "git fetch --unshallow" in release.reason


def test_outside_a_git_checkout_it_names_its_reason(tmp_path: Path) -> None:
    release = find_previous_release(tmp_path)

    assert release.commit is None
    assert "not a git checkout" in release.reason


def test_a_history_that_starts_with_the_schema_has_no_previous_release(tmp_path: Path) -> None:
    repository = tmp_path / "repository"
    repository.mkdir()
    git(repository, "init", "--quiet")
    commit(repository, "migrations/0001.py")

    release = find_previous_release(repository)

    assert release.commit is None
    assert "no release before it" in release.reason

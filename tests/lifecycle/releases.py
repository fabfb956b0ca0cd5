"""Other releases' code for the lifecycle tests: the previous release from git, or this one less its
newest migration; and a way to run a release's migration function in a process of its own.

`python -m tests.lifecycle.releases` prints which previous release the expand/contract test runs
(`.ci/run` shows it), or why it has none.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = "migrations"
# Runs one release's lambda_app.migrate.handler: a script, so that no module of this tree loads.
RUN_MIGRATION = Path(__file__).with_name("run_migration.py")
GIT_TIMEOUT_SECONDS = 60
MIGRATION_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class PreviousRelease:
    """The commit the previous release was built from, and how it was chosen; or why none."""

    commit: str | None
    reason: str

    def describe(self, root: Path = ROOT) -> str:
        """One line for a log: the commit, its date and subject, and why it was chosen."""
        if self.commit is None:
            return f"none ({self.reason})"
        summary = _git(root, "log", "-1", "--format=%h %cs %s", self.commit).stdout.strip()
        return f"{summary[:120]} ({self.reason})"


def find_previous_release(root: Path = ROOT) -> PreviousRelease:
    """The merge base of HEAD and the last release tag; without tags, the newest ancestor whose
    ``migrations/`` differs from HEAD's (the last release before the newest schema change).
    """
    if shutil.which("git") is None:
        return PreviousRelease(None, "git is not installed")
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if head.returncode != 0:
        return PreviousRelease(None, f"{root} is not a git checkout with a commit")
    tagged = _merge_base_with_last_tag(root, head.stdout.strip())
    if tagged is not None:
        return tagged
    changed = _git(root, "log", "-1", "--first-parent", "--format=%H", "HEAD", "--", MIGRATIONS)
    newest_change = changed.stdout.strip()
    if not newest_change:
        return PreviousRelease(None, f"no commit of HEAD's history has {MIGRATIONS}/")
    before = _git(root, "rev-parse", "--verify", "--quiet", f"{newest_change}^1^{{commit}}")
    if before.returncode != 0:
        if _is_shallow(root):
            return PreviousRelease(
                None,
                f"the clone is shallow: the commit before {newest_change[:7]}, the newest change"
                f" to {MIGRATIONS}/, was not fetched (git fetch --unshallow)",
            )
        return PreviousRelease(
            None, f"{newest_change[:7]} created {MIGRATIONS}/: no release before it"
        )
    return PreviousRelease(
        before.stdout.strip(),
        f"the last commit before {newest_change[:7]}, the newest change to {MIGRATIONS}/",
    )


def _merge_base_with_last_tag(root: Path, head: str) -> PreviousRelease | None:
    """The merge base with the newest tag that is not HEAD itself (nor ahead of it)."""
    # Newest first; tags of the same second by version (the last --sort is the first key).
    newest_first = ("--sort=-v:refname", "--sort=-creatordate")
    tags = _git(root, "for-each-ref", *newest_first, "--format=%(refname:short)", "refs/tags")
    for tag in tags.stdout.split():
        base = _git(root, "merge-base", "HEAD", f"{tag}^{{commit}}")
        if base.returncode != 0:
            if _is_shallow(root):
                return PreviousRelease(
                    None,
                    f"the clone is shallow: no merge base with tag {tag} (git fetch --unshallow)",
                )
            continue
        if base.stdout.strip() != head:
            return PreviousRelease(
                base.stdout.strip(), f"the merge base with {tag}, the last release tag"
            )
    return None


def _is_shallow(root: Path) -> bool:
    return _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"


def _git(root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git") or "git"
    return subprocess.run(
        [git, "-C", str(root), *arguments],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_SECONDS,
        check=False,
    )


def export_tree(commit: str, destination: Path, root: Path = ROOT) -> None:
    """Write the files of `commit` into `destination`, as a checkout would, without touching the
    repository (a `git worktree` would register itself in the .git that every worktree shares).
    """
    archive = subprocess.run(
        [shutil.which("git") or "git", "-C", str(root), "archive", "--format=tar", commit],
        capture_output=True,
        timeout=GIT_TIMEOUT_SECONDS,
        check=True,
    )
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tree:
        tree.extractall(destination, filter="data")


def copy_without_newest_revision(destination: Path, root: Path = ROOT) -> tuple[str, str]:
    """This release's migration code less its newest revision: what the release before it ran.

    Returns (the revision left out, the newest one left in).
    """
    from alembic.script import ScriptDirectory

    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(root / "lambda_app", destination / "lambda_app", ignore=ignore)
    shutil.copytree(root / MIGRATIONS, destination / MIGRATIONS, ignore=ignore)
    shutil.copy2(root / "alembic.ini", destination / "alembic.ini")
    scripts = ScriptDirectory(str(destination / MIGRATIONS))
    newest = scripts.get_revision(scripts.get_current_head())
    if newest is None or not isinstance(newest.down_revision, str):
        raise ValueError("the migrations need a single head with a single parent to leave one out")
    Path(newest.path).unlink()
    return newest.revision, newest.down_revision


def run_migration(
    release_root: Path, event: dict[str, Any], database_url: str, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """Invoke the migration function of the release in `release_root` with `event`.

    A process of its own, with only that release on its path; the last line it prints is
    ``{"module": <its migrate.py>, "result": <the handler's answer>}``.
    """
    environment = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(release_root)}
    return subprocess.run(
        [sys.executable, str(RUN_MIGRATION), json.dumps(event)],
        cwd=workdir,  # no .env of a developer's checkout is read
        env=environment,
        capture_output=True,
        text=True,
        timeout=MIGRATION_TIMEOUT_SECONDS,
        check=False,
    )


if __name__ == "__main__":
    print(find_previous_release().describe())

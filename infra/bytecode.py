"""Byte code for the Lambda bundle, compiled by an interpreter of the runtime's version.

CPython loads only ``.pyc`` files whose magic number matches its own minor version, and
Lambda's ``/var/task`` is read-only, so byte code is useful only when an interpreter of
exactly the runtime's version writes it (``LAMBDA_BUILD_PYTHON``, ``pythonX.Y`` on PATH,
or a pyenv install; ``LAMBDA_BUILD_PYTHON=none`` looks no further, for a build without
byte code). Two layouts, chosen per part of the bundle:

- Third-party packages become *sourceless*: each ``module.py`` is compiled to
  ``module.pyc`` beside it (the "legacy" location, the only one CPython imports without
  a source file) and the ``.py`` is deleted. That saves the sources' ~16 MB, which keeps
  the bundle under 50 MB unzipped even when no aarch64 ``strip`` is available. The cost:
  tracebacks through library frames show file and line but not the source text.
- Our own ``lambda_app/`` and ``migrations/`` keep their sources, with byte code in
  ``__pycache__`` (``cpython-3XY`` tags), so tracebacks from our code stay readable and
  Alembic finds its revision files.

Both use ``unchecked-hash`` invalidation: CDK zips assets with fixed timestamps, which
timestamp-checked ``.pyc`` files would never match, and nothing on Lambda can change a
source after the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# LAMBDA_BUILD_PYTHON=none: build without byte code even where an interpreter exists.
NO_INTERPRETER = "none"


def find_matching_python(python_version: str) -> str | None:
    """Return an interpreter of exactly ``python_version`` (e.g. "3.13"), or None."""
    chosen = os.environ.get("LAMBDA_BUILD_PYTHON")
    if chosen == NO_INTERPRETER:
        return None
    candidates = [
        chosen,
        shutil.which(f"python{python_version}"),
        *sorted(
            str(path)
            for path in (Path.home() / ".pyenv" / "versions").glob(
                f"{python_version}*/bin/python{python_version}"
            )
        ),
    ]
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        candidates.insert(0, sys.executable)
    for candidate in candidates:
        if candidate and _reports_version(candidate) == python_version:
            return candidate
    return None


def _reports_version(interpreter: str) -> str | None:
    # pyenv shims exist on PATH even when they cannot run; asking the interpreter is the test.
    try:
        result = subprocess.run(  # noqa: S603 - a local interpreter path, no shell
            [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def compile_bytecode(paths: list[Path], interpreter: str, *, sourceless: bool = False) -> None:
    """Compile every ``.py`` under ``paths`` with ``unchecked-hash`` invalidation.

    ``sourceless`` writes ``module.pyc`` beside each source (importable without it) and
    deletes the source; otherwise byte code goes to ``__pycache__`` and sources stay.
    """
    if not paths:
        return
    subprocess.run(  # noqa: S603 - a verified local interpreter, no shell
        [
            interpreter,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            *(["-b"] if sourceless else []),
            *(str(path) for path in paths),
        ],
        check=True,
    )
    if sourceless:
        for path in paths:
            _drop_compiled_sources(path)


def _drop_compiled_sources(root: Path) -> None:
    sources = [root] if root.is_file() else sorted(root.rglob("*.py"))
    for source in sources:
        # compileall -q fails the build on a syntax error, so every source has its .pyc;
        # the check keeps a source rather than losing a module if that ever changes.
        if source.suffix == ".py" and source.with_suffix(".pyc").is_file():
            source.unlink()


def pyc_magic(pyc: Path) -> int:
    """The CPython magic number a ``.pyc`` file was written for."""
    return int.from_bytes(pyc.read_bytes()[:2], "little")

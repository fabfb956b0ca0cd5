"""Size of the Lambda bundle that `make package` builds into build/lambda."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLE_DIR = PROJECT_ROOT / "build" / "lambda"
BUNDLE_ZIP = PROJECT_ROOT / "build" / "lambda.zip"
INFO_FILE = "bundle-info.json"
MIB = 1024 * 1024


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def _zipped_size(folder: Path) -> int:
    """The zip `make package` writes, reused when newer than every file in the folder."""
    files = _files(folder)
    newest = max(path.stat().st_mtime for path in files)
    if BUNDLE_ZIP.is_file() and BUNDLE_ZIP.stat().st_mtime >= newest:
        return BUNDLE_ZIP.stat().st_size
    # Zipped as infra.bundling.zip_bundle does, without importing the CDK.
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "lambda.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            for path in files:
                bundle.write(path, path.relative_to(folder))
        return archive.stat().st_size


def _build() -> None:
    """Build build/lambda with the project's own bundler (pip, so it may need the network)."""
    from infra.node_banner import silence_node_end_of_life_banner

    silence_node_end_of_life_banner()  # `python -m bench` run without make
    from infra.bundling import ensure_bundle
    from infra.settings import DEFAULT_PYTHON_VERSION

    ensure_bundle(BUNDLE_DIR, python_version=DEFAULT_PYTHON_VERSION)


def measure() -> dict[str, Any]:
    """`{"unzipped", "zipped"}` in MiB, plus where they come from; null and a note on failure."""
    note = "read from build/lambda (run `make package` to rebuild it)"
    if not BUNDLE_DIR.is_dir():
        try:
            _build()
            note = "built into build/lambda with infra.bundling"
        except Exception as error:  # any failure: report it, keep the rest of the bench
            reason = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            return {"unzipped": None, "zipped": None, "note": f"could not build: {reason}"}
    unzipped = sum(path.stat().st_size for path in _files(BUNDLE_DIR))
    info_file = BUNDLE_DIR / INFO_FILE
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    return {
        "unzipped": round(unzipped / MIB, 2),
        "zipped": round(_zipped_size(BUNDLE_DIR) / MIB, 2),
        "unit": "MiB",
        "python_version": info.get("python_version"),
        "platform": info.get("platform"),
        "bytecode": info.get("bytecode_compiled_by") is not None,
        "note": note,
    }

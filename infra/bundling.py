"""Build the Lambda deployment package without Docker.

The same code serves three callers: the CDK asset (``LocalBundler``, CDK's
``ILocalBundling`` hook), ``make package`` (``python -m infra.bundling``) and the
infra tests. A build is cached in ``build/lambda`` under a fingerprint of its
inputs, so a synth or a test run after the first one copies instead of running pip.

Byte code is compiled only by an interpreter of the runtime's exact version; see
``infra/bytecode.py`` for why and for the layout. Without such an interpreter the
package ships sources only and says so.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

from infra.bytecode import compile_bytecode, find_matching_python

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / "build"
DEFAULT_OUTPUT = BUILD_DIR / "lambda"
LAMBDA_PLATFORM = "manylinux2014_aarch64"
# Bump when the recipe below changes, so cached builds are not reused.
RECIPE_VERSION = "4"

APP_SOURCES = ("lambda_app", "migrations")
APP_FILES = ("alembic.ini",)
REQUIREMENTS = "requirements.txt"
# Installed without their dependencies: the X-Ray SDK's other one is botocore, which the
# runtime provides and which the bundle must not shadow.
REQUIREMENTS_WITHOUT_DEPENDENCIES = "requirements-nodeps.txt"
PRUNED_DIR_NAMES = frozenset({"__pycache__", "tests", "test"})
# A developer's local settings (secrets, perhaps): not a source of the package.
LOCAL_SETTINGS_FILES = (".env", ".env.*")
# Console scripts (shebangs to this machine's Python) and test helpers no request imports.
PRUNED_PATHS = ("bin", "sqlalchemy/testing", "alembic/testing")
AARCH64_STRIP = "aarch64-linux-gnu-strip"
# Stubs, stray byte code, and the C/Cython sources some wheels ship beside their binaries.
PRUNED_SUFFIXES = (".pyi", ".pyc", ".pyo", ".c", ".pyx", ".pxd")
FINGERPRINT_FILE = ".bundle-fingerprint"
INFO_FILE = "bundle-info.json"


@dataclass(frozen=True)
class BundleInfo:
    """What a build produced: where, for which Python, and whether byte code is in it."""

    path: Path
    python_version: str
    platform: str
    bytecode_compiled_by: str | None
    debug_info_stripped: bool
    # What stripping saved, so a test can bound the size of an unstripped build too.
    debug_info_bytes: int
    unzipped_bytes: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "python_version": self.python_version,
                "platform": self.platform,
                "bytecode_compiled_by": self.bytecode_compiled_by,
                "debug_info_stripped": self.debug_info_stripped,
                "debug_info_bytes": self.debug_info_bytes,
                "unzipped_bytes": self.unzipped_bytes,
            },
            indent=2,
        )


def host_platform() -> str:
    """The pip platform tag of this machine (Linux), for a bundle this machine can import."""
    return f"manylinux2014_{platform.machine()}"


def _source_files() -> list[Path]:
    files = [
        PROJECT_ROOT / REQUIREMENTS,
        PROJECT_ROOT / REQUIREMENTS_WITHOUT_DEPENDENCIES,
        *(PROJECT_ROOT / name for name in APP_FILES),
    ]
    for package in APP_SOURCES:
        files.extend(
            path
            for path in (PROJECT_ROOT / package).rglob("*")
            if path.is_file() and not _is_pruned(path.relative_to(PROJECT_ROOT))
        )
    return sorted(files)


def fingerprint(python_version: str, platform_tag: str = LAMBDA_PLATFORM) -> str:
    """Hash every input of the package: sources, pins, target, this recipe and its tools.

    Whether a matching interpreter (byte code) and an aarch64 strip exist changes the
    package, so both are inputs too.
    """
    tools = (
        f"bytecode={find_matching_python(python_version) is not None}"
        f"|strip={_strip_tool(platform_tag) is not None}"
    )
    digest = hashlib.sha256(f"{RECIPE_VERSION}|{python_version}|{platform_tag}|{tools}".encode())
    for path in _source_files():
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _is_pruned(relative: Path) -> bool:
    return (
        any(part in PRUNED_DIR_NAMES for part in relative.parts[:-1])
        or relative.name.endswith(PRUNED_SUFFIXES)
        or any(fnmatch.fnmatch(relative.name, pattern) for pattern in LOCAL_SETTINGS_FILES)
    )


def _pip_install(target: Path, python_version: str, platform_tag: str) -> None:
    for requirements, options in (
        (REQUIREMENTS, ()),
        (REQUIREMENTS_WITHOUT_DEPENDENCIES, ("--no-deps",)),
    ):
        subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                # -qq: errors only (hides find-links notices); the target folder is not an
                # environment, so conflicts with this venv's packages are noise.
                "-qq",
                "--disable-pip-version-check",
                "--no-warn-conflicts",
                "--no-compile",
                "--target",
                str(target),
                "--platform",
                platform_tag,
                "--implementation",
                "cp",
                "--python-version",
                python_version,
                "--only-binary=:all:",
                *options,
                "--requirement",
                str(PROJECT_ROOT / requirements),
            ],
            check=True,
        )


def copy_app(target: Path, project: Path = PROJECT_ROOT) -> None:
    """Copy our sources into ``target``; local settings files (``.env*``) never go along."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyi", *LOCAL_SETTINGS_FILES)
    for package in APP_SOURCES:
        shutil.copytree(project / package, target / package, ignore=ignore)
    for name in APP_FILES:
        shutil.copy2(project / name, target / name)


def _prune(target: Path) -> None:
    """Drop what never runs on Lambda: test suites, console scripts, stubs, stray byte code."""
    for relative in PRUNED_PATHS:
        shutil.rmtree(target / relative, ignore_errors=True)
    for path in sorted(target.rglob("*"), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name in PRUNED_DIR_NAMES:
            shutil.rmtree(path)
        elif path.is_file() and path.name.endswith(PRUNED_SUFFIXES):
            path.unlink()


def _strip_tool(platform_tag: str) -> str | None:
    """An aarch64 ``strip`` for Lambda bundles; host bundles are never stripped."""
    return shutil.which(AARCH64_STRIP) if platform_tag == LAMBDA_PLATFORM else None


def _strip_debug_info(target: Path, platform_tag: str) -> int:
    """Drop DWARF debug info from the aarch64 extension modules; return the bytes saved.

    SQLAlchemy's Cython modules ship with debug info (about half their size); the
    x86_64 ``strip`` cannot read aarch64 files, Debian's binutils-aarch64-linux-gnu can.
    Optional: without it the bundle is larger but complete.
    """
    strip = _strip_tool(platform_tag)
    if strip is None:
        return 0
    libraries = sorted(target.rglob("*.so"))
    before = sum(library.stat().st_size for library in libraries)
    for library in libraries:
        subprocess.run([strip, "--strip-debug", str(library)], check=True)  # noqa: S603
    return before - sum(library.stat().st_size for library in libraries)


def no_bytecode_warning(python_version: str) -> str:
    """What a bundle without byte code costs, and how to build the faster one."""
    return (
        f"bundling: WARNING: no Python {python_version} interpreter found, so the Lambda "
        "bundle ships sources without byte code. It works, but Lambda cannot cache byte code "
        "(/var/task is read-only), so every cold start compiles each module it imports: the "
        "migration function on each cold start, the API function (SnapStart) once per "
        f"published version. For the faster bundle install Python {python_version} (on PATH "
        f"as python{python_version}, or `pyenv install {python_version}`) or set "
        f"LAMBDA_BUILD_PYTHON=/path/to/python{python_version}, then build again."
    )


def directory_size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def build_bundle(
    output: Path, *, python_version: str, platform_tag: str = LAMBDA_PLATFORM
) -> BundleInfo:
    """Build the package into ``output`` (replaced) for ``platform_tag`` and ``python_version``.

    The default is Lambda's arm64; the tests also build one for this machine to import.
    """
    # A per-process staging folder: a test run and `make synth` may build at once.
    staging = output.with_name(f"{output.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _pip_install(staging, python_version, platform_tag)
    _prune(staging)
    debug_info_bytes = _strip_debug_info(staging, platform_tag)
    interpreter = find_matching_python(python_version)
    if interpreter is None:
        print(no_bytecode_warning(python_version), file=sys.stderr)
    else:
        # Third-party packages only: our own sources are not there yet.
        compile_bytecode([staging], interpreter, sourceless=True)
    copy_app(staging)
    if interpreter is not None:
        compile_bytecode([staging / package for package in APP_SOURCES], interpreter)
    info = BundleInfo(
        path=output,
        python_version=python_version,
        platform=platform_tag,
        bytecode_compiled_by=interpreter,
        debug_info_stripped=_strip_tool(platform_tag) is not None,
        debug_info_bytes=debug_info_bytes,
        unzipped_bytes=directory_size(staging),
    )
    (staging / INFO_FILE).write_text(info.to_json() + "\n")
    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)
    return info


def ensure_bundle(output: Path = DEFAULT_OUTPUT, *, python_version: str) -> Path:
    """Return ``output`` holding an up-to-date Lambda package, built only when inputs changed."""
    stamp = output.with_name(output.name + FINGERPRINT_FILE)
    wanted = fingerprint(python_version)
    if output.is_dir() and stamp.is_file() and stamp.read_text().strip() == wanted:
        return output
    build_bundle(output, python_version=python_version)
    stamp.write_text(wanted + "\n")
    return output


def zip_bundle(source: Path, archive: Path) -> int:
    """Zip ``source`` the way a deployment package is zipped; return the archive's size."""
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(source))
    return archive.stat().st_size


@jsii.implements(ILocalBundling)
class LocalBundler:
    """CDK's local bundling hook: copy the cached package into the asset's output folder."""

    def __init__(self, python_version: str) -> None:
        self._python_version = python_version

    # jsii calls back with the BundlingOptions struct positionally, while the typed
    # protocol spells it as keywords; accepting both keeps the runtime and mypy happy.
    def try_bundle(self, output_dir: str, *_options: Any, **_keywords: Any) -> bool:
        bundle = ensure_bundle(python_version=self._python_version)
        shutil.copytree(bundle, output_dir, dirs_exist_ok=True)
        return True


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def main(argv: list[str] | None = None) -> None:
    """Command line for ``make package``: build, zip and print both sizes."""
    from infra.settings import DEFAULT_PYTHON_VERSION

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python-version", default=DEFAULT_PYTHON_VERSION)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    bundle = ensure_bundle(args.output, python_version=args.python_version)
    unzipped = directory_size(bundle)
    zipped = zip_bundle(bundle, bundle.with_suffix(".zip"))
    info = json.loads((bundle / INFO_FILE).read_text())
    compiled = info["bytecode_compiled_by"] or "none: sources only, compiled at each cold start"
    stripped = (
        f"stripped ({_mib(info['debug_info_bytes'])} saved)"
        if info["debug_info_stripped"]
        else f"kept (no {AARCH64_STRIP})"
    )
    print(f"bundle:    {bundle} (Python {args.python_version}, {LAMBDA_PLATFORM})")
    print(f"byte code: {compiled}")
    print(f"debug info of extension modules: {stripped}")
    print(f"unzipped:  {_mib(unzipped)} ({unzipped} bytes; Lambda's limit is 250 MB)")
    print(f"zipped:    {_mib(zipped)} ({zipped} bytes) -> {bundle.with_suffix('.zip')}")


if __name__ == "__main__":
    main()

"""The Lambda bundle: built once (cached in build/lambda), complete, and for arm64 Lambda.

Its compiled wheels are aarch64, so they cannot be imported on this machine; the
tests read the bundle's files instead (ELF headers, wheel tags, module names).
"""

from __future__ import annotations

import ast
import json
import struct
import sys
from pathlib import Path

import pytest

from infra.bundling import (
    INFO_FILE,
    PROJECT_ROOT,
    _compile_bytecode,
    directory_size,
    ensure_bundle,
    find_matching_python,
)
from infra.settings import DEFAULT_PYTHON_VERSION
from tests.infra.conftest import Synthesized

ELF_MACHINE_AARCH64 = 183
# Provided by the Lambda Python runtime, deliberately not bundled.
RUNTIME_PROVIDED = {"boto3", "botocore"}
PYC_FLAGS_UNCHECKED_HASH = 0b01
UNZIPPED_LIMIT_BYTES = 50_000_000
CPYTHON_TAG = "cpython-" + DEFAULT_PYTHON_VERSION.replace(".", "")


@pytest.fixture(scope="session")
def bundle() -> Path:
    return ensure_bundle(python_version=DEFAULT_PYTHON_VERSION)


@pytest.fixture(scope="session")
def bundle_info(bundle: Path) -> dict[str, object]:
    info: dict[str, object] = json.loads((bundle / INFO_FILE).read_text())
    return info


def test_bundle_holds_the_handlers_migrations_and_alembic_config(bundle: Path) -> None:
    for relative in (
        "lambda_app/handler.py",
        "lambda_app/migrate.py",
        "lambda_app/main.py",
        "migrations/env.py",
        "alembic.ini",
    ):
        assert (bundle / relative).is_file(), relative
    revisions = sorted(p.name for p in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"))
    bundled = sorted(p.name for p in (bundle / "migrations" / "versions").glob("*.py"))
    assert revisions
    assert bundled == revisions


def test_every_third_party_import_of_the_app_is_bundled(bundle: Path) -> None:
    imported: set[str] = set()
    for source in (PROJECT_ROOT / "lambda_app").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - RUNTIME_PROVIDED - {"lambda_app"}
    third_party = {name for name in third_party if not name.startswith("mypy_boto3")}
    missing = {
        name
        for name in third_party
        if not (bundle / name).is_dir() and not (bundle / f"{name}.py").is_file()
    }
    assert third_party
    assert not missing


def test_extension_modules_are_aarch64_for_the_runtime_python(bundle: Path) -> None:
    libraries = sorted(bundle.rglob("*.so"))
    assert any(lib.parent.name == "pydantic_core" for lib in libraries)
    for library in libraries:
        header = library.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", library
        (machine,) = struct.unpack("<H", header[18:20])
        assert machine == ELF_MACHINE_AARCH64, library
        if ".cpython-" in library.name:
            assert f"{CPYTHON_TAG}-aarch64-linux-gnu" in library.name, library


def test_platform_wheels_are_manylinux_aarch64(bundle: Path) -> None:
    tags = [
        line.split(":", 1)[1].strip()
        for wheel in bundle.glob("*.dist-info/WHEEL")
        for line in wheel.read_text().splitlines()
        if line.startswith("Tag:")
    ]
    platform_tags = [tag for tag in tags if not tag.endswith("-none-any")]
    assert platform_tags
    assert all("aarch64" in tag for tag in platform_tags)


def test_tests_stubs_scripts_and_foreign_byte_code_are_left_out(bundle: Path) -> None:
    for path in bundle.rglob("*"):
        relative = path.relative_to(bundle)
        assert path.name not in {"tests", "test"} or not path.is_dir(), relative
        assert path.suffix != ".pyi", relative
        if path.suffix == ".pyc":
            assert CPYTHON_TAG in path.name, relative
    assert not (bundle / "bin").exists()
    assert not (bundle / "sqlalchemy" / "testing").exists()


def test_byte_code_is_present_exactly_when_a_matching_python_compiled_it(
    bundle: Path, bundle_info: dict[str, object]
) -> None:
    compiled = sorted(bundle.rglob(f"*.{CPYTHON_TAG}.pyc"))
    if bundle_info["bytecode_compiled_by"] is None:
        # No Python of the runtime's version on this machine: sources only (see DEPLOY.md).
        assert find_matching_python(DEFAULT_PYTHON_VERSION) is None
        assert compiled == []
        return
    handler_pyc = bundle / "lambda_app" / "__pycache__" / f"handler.{CPYTHON_TAG}.pyc"
    assert handler_pyc in compiled
    flags = struct.unpack("<I", handler_pyc.read_bytes()[4:8])[0]
    assert flags == PYC_FLAGS_UNCHECKED_HASH


def test_compile_step_writes_unchecked_hash_byte_code(tmp_path: Path) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "module.py").write_text("VALUE = 1\n")
    _compile_bytecode(package, sys.executable)
    tag = sys.implementation.cache_tag
    pyc = package / "__pycache__" / f"module.{tag}.pyc"
    assert struct.unpack("<I", pyc.read_bytes()[4:8])[0] == PYC_FLAGS_UNCHECKED_HASH


def test_unzipped_bundle_stays_under_50_mb(bundle: Path) -> None:
    assert directory_size(bundle) < UNZIPPED_LIMIT_BYTES


def test_cdk_asset_is_the_cached_bundle(bundle: Path, dev: Synthesized) -> None:
    outdir = dev.outdir
    assets = json.loads(next(outdir.glob("*.assets.json")).read_text())["files"]
    staged = [
        outdir / entry["source"]["path"]
        for entry in assets.values()
        if (outdir / entry["source"]["path"] / INFO_FILE).is_file()
    ]
    assert len(staged) == 1
    names = {p.relative_to(staged[0]) for p in staged[0].rglob("*")}
    assert names == {p.relative_to(bundle) for p in bundle.rglob("*")}

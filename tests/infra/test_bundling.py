"""The Lambda bundle: built once (cached in build/lambda), complete, and for arm64 Lambda.

Its compiled wheels are aarch64, so they cannot be imported on this machine; the
tests read the bundle's files instead (ELF headers, wheel tags, module names, byte
code headers). test_bundle_runs.py imports and runs a twin built for this machine.
"""

from __future__ import annotations

import ast
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from infra.bundling import (
    APP_SOURCES,
    INFO_FILE,
    PROJECT_ROOT,
    copy_app,
    directory_size,
    ensure_bundle,
)
from infra.bytecode import NO_INTERPRETER, compile_bytecode, find_matching_python, pyc_magic
from infra.settings import DEFAULT_PYTHON_VERSION
from tests.infra.conftest import Synthesized

ELF_MACHINE_AARCH64 = 183
# Provided by the Lambda Python runtime, deliberately not bundled (snapshot_restore_py:
# the SnapStart hooks library "included in Python managed runtimes", AWS Lambda docs).
RUNTIME_PROVIDED = {"boto3", "botocore", "snapshot_restore_py"}
# Imported (lazily) only outside Lambda: PyJWT verifies bearer tokens for uvicorn and
# tests; on Lambda the HTTP API's JWT authorizer has done that (lambda_app/auth.py).
NOT_USED_ON_LAMBDA = {"jwt"}
PYC_FLAGS_UNCHECKED_HASH = 0b01
# importlib.util.MAGIC_NUMBER of CPython 3.13 (first two bytes, little-endian).
PYC_MAGIC_313 = 3571
UNZIPPED_LIMIT_BYTES = 50_000_000
CPYTHON_TAG = "cpython-" + DEFAULT_PYTHON_VERSION.replace(".", "")


@pytest.fixture(scope="session")
def bundle() -> Path:
    return ensure_bundle(python_version=DEFAULT_PYTHON_VERSION)


@pytest.fixture(scope="session")
def bundle_info(bundle: Path) -> dict[str, object]:
    info: dict[str, object] = json.loads((bundle / INFO_FILE).read_text())
    return info


@pytest.fixture(scope="session")
def compiled_bundle(bundle: Path, bundle_info: dict[str, object]) -> Path:
    """The bundle, when a Python of the runtime's version compiled its byte code.

    Without one the build ships sources (tested in test_bundle_runs.py); CI must have one.
    """
    if not bundle_info["bytecode_compiled_by"]:
        reason = f"no Python {DEFAULT_PYTHON_VERSION} here to compile byte code"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must test the byte-code bundle")
        pytest.skip(f"{reason}; install it or set LAMBDA_BUILD_PYTHON")
    return bundle


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


def _is_bundled(bundle: Path, module: str) -> bool:
    """A package folder, or a single-module distribution as source or sourceless byte code."""
    return any((bundle / name).exists() for name in (module, f"{module}.py", f"{module}.pyc"))


def test_every_third_party_import_of_the_app_is_bundled(bundle: Path) -> None:
    imported: set[str] = set()
    for source in (PROJECT_ROOT / "lambda_app").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = (
        imported
        - set(sys.stdlib_module_names)
        - RUNTIME_PROVIDED
        - NOT_USED_ON_LAMBDA
        - {"lambda_app"}
    )
    third_party = {name for name in third_party if not name.startswith("mypy_boto3")}
    missing = {name for name in third_party if not _is_bundled(bundle, name)}
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


def test_tests_stubs_scripts_and_build_sources_are_left_out(bundle: Path) -> None:
    for path in bundle.rglob("*"):
        relative = path.relative_to(bundle)
        assert path.name not in {"tests", "test"} or not path.is_dir(), relative
        assert path.suffix not in {".pyi", ".pyo", ".c", ".pyx", ".pxd"}, relative
        if path.parent.name == "__pycache__":
            assert CPYTHON_TAG in path.name, relative
    assert not (bundle / "bin").exists()
    assert not (bundle / "sqlalchemy" / "testing").exists()


def test_default_runtime_is_3_13(bundle_info: dict[str, object]) -> None:
    assert DEFAULT_PYTHON_VERSION == "3.13"
    assert bundle_info["python_version"] == "3.13"


def test_byte_code_is_compiled_by_a_3_13_interpreter(
    compiled_bundle: Path, bundle_info: dict[str, object]
) -> None:
    interpreter = bundle_info["bytecode_compiled_by"]
    assert isinstance(interpreter, str)
    version = subprocess.run(
        [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip() == "3.13"


def test_every_byte_code_file_is_for_cpython_3_13_with_unchecked_hashes(
    compiled_bundle: Path,
) -> None:
    bundle = compiled_bundle
    compiled = sorted(bundle.rglob("*.pyc"))
    assert len(compiled) > 500
    for pyc in compiled:
        header = pyc.read_bytes()[:8]
        assert pyc_magic(pyc) == PYC_MAGIC_313, pyc.relative_to(bundle)
        assert struct.unpack("<I", header[4:8])[0] == PYC_FLAGS_UNCHECKED_HASH, pyc


def test_our_code_keeps_its_sources_beside_cpython_313_byte_code(compiled_bundle: Path) -> None:
    bundle = compiled_bundle
    for relative in ("lambda_app/handler.py", "lambda_app/migrate.py", "migrations/env.py"):
        source = bundle / relative
        assert source.is_file(), relative
        pyc = source.parent / "__pycache__" / f"{source.stem}.{CPYTHON_TAG}.pyc"
        assert pyc.is_file(), pyc.relative_to(bundle)
    for package in APP_SOURCES:
        stray = [p for p in (bundle / package).rglob("*.pyc") if p.parent.name != "__pycache__"]
        assert stray == [], package


def test_third_party_packages_are_sourceless_byte_code(compiled_bundle: Path) -> None:
    """Each module is module.pyc where module.py was: the layout CPython imports without source."""
    bundle = compiled_bundle
    assert (bundle / "pydantic" / "__init__.pyc").is_file()
    assert (bundle / "sqlalchemy" / "orm" / "session.pyc").is_file()
    assert (bundle / "typing_extensions.pyc").is_file()
    leftovers = [
        path.relative_to(bundle)
        for path in bundle.rglob("*.py")
        if path.relative_to(bundle).parts[0] not in APP_SOURCES
    ]
    assert leftovers == []
    caches = {path.parent.name for path in bundle.glob("*/__pycache__")}
    assert caches <= set(APP_SOURCES)


def test_compile_step_writes_unchecked_hash_byte_code(tmp_path: Path) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "module.py").write_text("VALUE = 1\n")
    compile_bytecode([package], sys.executable)
    tag = sys.implementation.cache_tag
    pyc = package / "__pycache__" / f"module.{tag}.pyc"
    assert struct.unpack("<I", pyc.read_bytes()[4:8])[0] == PYC_FLAGS_UNCHECKED_HASH
    assert (package / "module.py").is_file()


def test_sourceless_compile_step_replaces_sources_with_importable_byte_code(
    tmp_path: Path,
) -> None:
    package = tmp_path / "sourceless_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from sourceless_pkg.module import VALUE\n")
    (package / "module.py").write_text("VALUE = 42\n")
    compile_bytecode([tmp_path], sys.executable, sourceless=True)
    assert sorted(p.name for p in package.iterdir()) == ["__init__.pyc", "module.pyc"]
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); "
            "import sourceless_pkg; print(sourceless_pkg.VALUE)",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "42"


def test_unzipped_bundle_stays_under_50_mb_even_without_an_aarch64_strip(
    bundle: Path, bundle_info: dict[str, object]
) -> None:
    debug_info_bytes = bundle_info["debug_info_bytes"]
    assert isinstance(debug_info_bytes, int)
    assert directory_size(bundle) + debug_info_bytes < UNZIPPED_LIMIT_BYTES


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


def test_interpreter_lookup_pointed_at_nothing_finds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    monkeypatch.delenv("LAMBDA_BUILD_PYTHON", raising=False)
    assert find_matching_python(running) is not None
    monkeypatch.setenv("LAMBDA_BUILD_PYTHON", NO_INTERPRETER)
    assert find_matching_python(running) is None


def test_local_settings_files_never_reach_the_bundle(bundle: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    for package in APP_SOURCES:
        (project / package).mkdir(parents=True)
        (project / package / "module.py").write_text("VALUE = 1\n")
        (project / package / ".env").write_text("APP_DB_PASSWORD=local-secret\n")
        (project / package / ".env.local").write_text("APP_DB_PASSWORD=local-secret\n")
    (project / "alembic.ini").write_text("[alembic]\n")
    (project / ".env").write_text("APP_DB_PASSWORD=local-secret\n")
    copy_app(tmp_path / "bundle", project)
    copied = sorted(p.relative_to(tmp_path / "bundle") for p in (tmp_path / "bundle").rglob("*"))
    assert [p for p in copied if p.name.startswith(".env")] == []
    assert Path("lambda_app/module.py") in copied
    assert list(bundle.rglob(".env*")) == []


def test_the_x_ray_sdk_is_bundled_but_not_the_runtimes_botocore(bundle: Path) -> None:
    assert _is_bundled(bundle, "aws_xray_sdk")
    assert _is_bundled(bundle, "wrapt")
    for module in RUNTIME_PROVIDED:
        assert not _is_bundled(bundle, module), module

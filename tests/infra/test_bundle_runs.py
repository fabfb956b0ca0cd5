"""The bundle recipe yields a package that runs: built for this machine, imported in isolation.

The Lambda bundle's extension modules are aarch64, so this machine cannot import it.
Its twin, built by the same code from the same requirements.txt and sources for this
machine's platform and Python, can: a bare interpreter (no site-packages, ``-S -I``)
with only the standard library and that folder importable loads both handlers and
answers an HTTP API event. A module missing from requirements.txt fails here.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import pytest

from infra.bundling import INFO_FILE, build_bundle, host_platform
from infra.bytecode import NO_INTERPRETER

EVENTS = Path(__file__).parent / "events"
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# Run by the base interpreter: imports both handlers, answers one event, and lists any
# module that came from neither the bundle nor the standard library.
RUNNER = """
import json, sys, sysconfig
bundle, event_file = sys.argv[1], sys.argv[2]
sys.path.insert(0, bundle)
import lambda_app.handler
import lambda_app.migrate


class Context:
    function_name = "users-dev-api"
    function_version = "1"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:users-dev-api:live"
    memory_limit_in_mb = 1024
    aws_request_id = "5f0c3d1e-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/users-dev-api"
    log_stream_name = "2026/11/28/[1]0123456789abcdef"

    def get_remaining_time_in_millis(self):
        return 25_000


with open(event_file) as handle:
    event = json.load(handle)
response = lambda_app.handler.handler(event, Context())
roots = (bundle, sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
foreign = sorted(
    name
    for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not module.__file__.startswith(roots)
)
print(json.dumps({"response": response, "foreign": foreign}))
"""


@pytest.fixture(scope="session")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same recipe for this machine: one pip install per test session."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the host twin uses manylinux wheels")
    output = tmp_path_factory.mktemp("host-bundle") / "lambda"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("LAMBDA_BUILD_PYTHON", raising=False)  # the running Python compiles
        build_bundle(output, python_version=HOST_PYTHON, platform_tag=host_platform())
    return output


@pytest.fixture(scope="session")
def sources_only_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The host twin built with the interpreter lookup pointed at nothing, and its warning."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the host twin uses manylinux wheels")
    output = tmp_path_factory.mktemp("sources-only-bundle") / "lambda"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stderr(printed):
        patch.setenv("LAMBDA_BUILD_PYTHON", NO_INTERPRETER)
        build_bundle(output, python_version=HOST_PYTHON, platform_tag=host_platform())
    return output, printed.getvalue()


def _run_in_bare_interpreter(bundle: Path, event_name: str) -> dict[str, Any]:
    base_python = getattr(sys, "_base_executable", sys.executable)
    result = subprocess.run(
        # -B: like Lambda's read-only /var/task, the run never writes byte code.
        [base_python, "-B", "-S", "-I", "-c", RUNNER, str(bundle), str(EVENTS / event_name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=bundle,  # Lambda's working folder is the package's (/var/task)
        # Only what a Lambda environment would set; no DB_* or AWS credentials needed.
        env={"AWS_REGION": "eu-west-1", "LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome


def test_host_twin_is_built_from_sourceless_third_party_byte_code(host_bundle: Path) -> None:
    assert (host_bundle / "fastapi" / "__init__.pyc").is_file()
    assert not (host_bundle / "fastapi" / "__init__.py").exists()
    assert (host_bundle / "lambda_app" / "handler.py").is_file()


def test_bundle_alone_serves_an_http_api_event_with_a_problem_404(host_bundle: Path) -> None:
    outcome = _run_in_bare_interpreter(host_bundle, "http_api_get_unknown_route.json")
    assert outcome["foreign"] == []
    response = outcome["response"]
    assert response["statusCode"] == 404
    headers = {key.lower(): value for key, value in response["headers"].items()}
    assert headers["content-type"].startswith("application/problem+json")
    # Mangum base64-encodes media types it does not know as text; API Gateway decodes them.
    raw = response["body"]
    body = json.loads(base64.b64decode(raw) if response["isBase64Encoded"] else raw)
    assert body["status"] == 404


def test_without_a_matching_interpreter_the_bundle_ships_sources_and_says_what_it_costs(
    sources_only_bundle: tuple[Path, str],
) -> None:
    bundle, warning = sources_only_bundle
    assert sorted(bundle.rglob("*.pyc")) == []
    assert (bundle / "fastapi" / "__init__.py").is_file()
    assert json.loads((bundle / INFO_FILE).read_text())["bytecode_compiled_by"] is None
    assert "WARNING" in warning
    assert "every cold start compiles" in warning
    assert f"LAMBDA_BUILD_PYTHON=/path/to/python{HOST_PYTHON}" in warning


def test_sources_only_bundle_alone_serves_an_http_api_event(
    sources_only_bundle: tuple[Path, str],
) -> None:
    bundle, _ = sources_only_bundle
    outcome = _run_in_bare_interpreter(bundle, "http_api_get_unknown_route.json")
    assert outcome["foreign"] == []
    assert outcome["response"]["statusCode"] == 404

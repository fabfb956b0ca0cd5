"""`make run`: starts the embedded services, migrates, serves, and stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from local.embedded_postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
README_MARKER = "<!-- tests/local/test_run.py runs this block against make run -->"
README_EMAIL = "ada@example.com"  # the address the README's example creates


def wait_for(url: str, server: subprocess.Popen[str], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def local_run_environment(data_dir: Path) -> dict[str, str]:
    """`make run`'s environment on free ports: embedded services, local auth, `data_dir`."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "DB_SECRET_ARN"}
        and not key.startswith("AUTH_")
    }
    environment.update(
        PORT=str(free_port()),
        LOCAL_PG_PORT=str(free_port()),
        LOCAL_S3_PORT=str(free_port()),
        LOCAL_DATA_DIR=str(data_dir),
    )
    return environment


def make_token(environment: dict[str, str], user_type: str, email: str | None = None) -> str:
    """Run what `make token` runs and return the token it prints."""
    command = [sys.executable, "-m", "local.token", "--user-type", user_type]
    if email:
        command += ["--email", email]
    printed = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, check=True, timeout=60
    )
    return printed.stdout.strip()


def readme_example(api_port: int) -> str:
    """The README's token-and-curl block (the fenced block under its marker) for this server."""
    readme = (ROOT / "README.md").read_text()
    assert README_MARKER in readme, f"README.md has no {README_MARKER!r} line"
    block = re.match(
        r"\s*```(?:sh|bash)\n(.*?)^```", readme.split(README_MARKER, 1)[1], re.M | re.S
    )
    assert block, "no ```sh block directly under the README's marker"
    return block[1].replace("localhost:8000", f"127.0.0.1:{api_port}")


def run_readme_example(environment: dict[str, str], api_port: int) -> list[Any]:
    """Run the README's example as a reader would (bash, `make`), return the JSON it printed."""
    if not (ROOT / ".venv" / "bin" / "python").is_file():
        pytest.fail("the README's example runs `make token`, which needs .venv: run `make install`")
    bash = shutil.which("bash")
    assert bash, "bash is not installed"
    ran = subprocess.run(
        [bash, "-e", "-c", readme_example(api_port)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert ran.returncode == 0, f"the README's example failed: {ran.stderr}"
    printed = json_values(ran.stdout)
    assert len(printed) == 2, f"expected the output of two curls: {ran.stdout}"
    return printed


def json_values(text: str) -> list[Any]:
    """The JSON documents printed one after another (`curl -s` ends them with no newline)."""
    decoder, values, text, at = json.JSONDecoder(), [], text.strip(), 0
    while at < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        at = len(text) - len(text[at:].lstrip())
    return values


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh data folder inside the project (PostgreSQL's own user can reach it)."""
    path = ROOT / ".local" / f"run-test-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_local_run_serves_the_api_on_embedded_services_and_stops(data_dir: Path) -> None:
    environment = local_run_environment(data_dir)
    api_port, s3_port = int(environment["PORT"]), int(environment["LOCAL_S3_PORT"])
    server = subprocess.Popen(
        [sys.executable, "-m", "local.run"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = wait_for(f"http://127.0.0.1:{api_port}/health", server)
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}")
        docs = api.get("/docs")
        anonymous = api.get("/users")
        admin = {"Authorization": f"Bearer {make_token(environment, 'admin')}"}
        created = api.post("/users", json={"email": "local@example.com"}, headers=admin)
        upload = api.post(
            f"/users/{created.json()['id']}/avatar",
            json={"content_type": "image/jpeg"},
            headers=admin,
        )
        staff = {"Authorization": f"Bearer {make_token(environment, 'staff', 'pat@example.com')}"}
        staff_me = api.get("/users/me", headers=staff)
        # The user the admin created signs in with the identity the API provisioned.
        invited_token = make_token(environment, "customer", "local@example.com")
        invited_me = api.get("/users/me", headers={"Authorization": f"Bearer {invited_token}"})
        readme_created, readme_page = run_readme_example(environment, api_port)
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    print(output)

    assert created.status_code == 201, created.text
    assert created.json()["identity"] == "linked"
    assert invited_me.json()["id"] == created.json()["id"]
    claims = jwt.decode(invited_token, options={"verify_signature": False})
    assert claims["iss"].startswith("https://cognito-idp.")  # signed in to moto's Cognito
    assert f"Cognito (embedded moto): http://127.0.0.1:{s3_port}" in output
    assert health.json() == {"status": "ok"}
    assert docs.status_code == 200
    assert anonymous.status_code == 401
    assert (staff_me.json()["email"], staff_me.json()["user_type"]) == ("pat@example.com", "staff")
    assert created.status_code == 201
    assert upload.json()["url"] == f"http://127.0.0.1:{s3_port}/users-service-local"
    assert f"http://127.0.0.1:{api_port}/docs" in output
    assert "make token USER_TYPE=admin" in output
    assert server.returncode == 0
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    assert readme_created["email"] == README_EMAIL, readme_created
    assert README_EMAIL in {user["email"] for user in readme_page["items"]}, readme_page

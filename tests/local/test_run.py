"""`make run`: starts the embedded services, migrates, serves, and stops on Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local.embedded_postgres import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(url: str, server: subprocess.Popen[str], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


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
    api_port, pg_port, s3_port = free_port(), free_port(), free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "DB_SECRET_ARN"}
    }
    environment.update(
        PORT=str(api_port),
        LOCAL_PG_PORT=str(pg_port),
        LOCAL_S3_PORT=str(s3_port),
        LOCAL_DATA_DIR=str(data_dir),
    )
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
        docs = httpx.get(f"http://127.0.0.1:{api_port}/docs")
        created = httpx.post(
            f"http://127.0.0.1:{api_port}/users", json={"email": "local@example.com"}
        )
        upload = httpx.post(
            f"http://127.0.0.1:{api_port}/users/{created.json()['id']}/avatar",
            json={"content_type": "image/jpeg"},
        )
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    print(output)

    assert health.json() == {"status": "ok"}
    assert docs.status_code == 200
    assert created.status_code == 201
    assert upload.json()["url"] == f"http://127.0.0.1:{s3_port}/users-service-local"
    assert f"http://127.0.0.1:{api_port}/docs" in output
    assert server.returncode == 0
    assert not (data_dir / "postgres" / "postmaster.pid").exists()

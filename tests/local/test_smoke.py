"""`make smoke`: every step passes against `make run` and cleans up; failures are FAIL, fast."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from sqlalchemy import create_engine, text

from local.dev_auth import new_private_key_pem, sign_token
from local.embedded_postgres import EmbeddedPostgres, free_port
from local.embedded_s3 import FAKE_CREDENTIALS
from local.run import LOCAL_BUCKET, LOCAL_DATABASE
from local.smoke.runner import main, redact, run_smoke
from tests.local.test_run import local_run_environment, make_token, wait_for

ROOT = Path(__file__).resolve().parents[2]
STEP_NAMES = [
    "health",
    "me",
    "create",
    "read",
    "list",
    "patch",
    "upload",
    "download",
    "rmavatar",
    "delete",
    "cleanup",
]
VERDICT = re.compile(r"^(PASS|FAIL|SKIP)  (\w+)\s+(.*)$")
# A hung smoke test fails the test instead of stalling the suite.
HANG_GUARD_SECONDS = 120


@dataclass
class LocalApi:
    """The server `make run` starts, an admin token `make token` prints, and its backing stores."""

    url: str
    token: str
    database_url: str
    s3_endpoint: str
    environment: dict[str, str]


@pytest.fixture(scope="module")
def local_api() -> Iterator[LocalApi]:
    """Start `python -m local.run` on free ports with its own data folder, as test_run does."""
    data_dir = ROOT / ".local" / f"smoke-test-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(parents=True)
    environment = local_run_environment(data_dir)
    api_port, pg_port, s3_port = (
        int(environment[name]) for name in ("PORT", "LOCAL_PG_PORT", "LOCAL_S3_PORT")
    )
    # A file, not a pipe: a full pipe would block the server's request log.
    log = (data_dir / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "local.run"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{api_port}"
        wait_for(f"{url}/health", server)
        yield LocalApi(
            url=url,
            token=make_token(environment, "admin"),
            database_url=EmbeddedPostgres(data_dir / "postgres", port=pg_port).url_for(
                LOCAL_DATABASE
            ),
            s3_endpoint=f"http://127.0.0.1:{s3_port}",
            environment=environment,
        )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def smoke(url: str, token: str, *options: str) -> subprocess.CompletedProcess[str]:
    """Run what `make smoke URL=... TOKEN=...` runs, with TOKEN in the environment."""
    return subprocess.run(
        [sys.executable, "-m", "local.smoke", "--url", url, *options],
        cwd=ROOT,
        env={**os.environ, "TOKEN": token},
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )


def verdicts(output: str) -> dict[str, tuple[str, str]]:
    """Step name -> (verdict, reason) from the smoke output."""
    found = (VERDICT.match(line) for line in output.splitlines())
    return {match[2]: (match[1], match[3]) for match in found if match}


def smoke_users(database_url: str) -> list[str]:
    """Emails of smoke-test users still in the local database."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT email FROM users WHERE email LIKE 'smoke-%'"))
            return [row.email for row in rows]
    finally:
        engine.dispose()


def stored_keys(s3_endpoint: str) -> list[str]:
    """Every object key in the local bucket."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    return [item["Key"] for item in client.list_objects_v2(Bucket=LOCAL_BUCKET).get("Contents", [])]


def assert_no_secrets(output: str, token: str) -> None:
    assert token not in output
    assert "eyJ" not in output
    assert "x-amz-signature" not in output.lower()
    assert "x-amz-security-token" not in output.lower()


def test_smoke_passes_every_step_against_make_run_and_leaves_nothing_behind(
    local_api: LocalApi,
) -> None:
    result = smoke(local_api.url, local_api.token)
    print(result.stdout, result.stderr)
    steps = verdicts(result.stdout)
    created = re.search(r"(smoke-\w+@example\.com), id ([0-9a-f-]{36})", result.stdout)

    assert result.returncode == 0
    assert list(steps) == STEP_NAMES
    assert {name: verdict for name, (verdict, _) in steps.items()} == dict.fromkeys(
        STEP_NAMES, "PASS"
    )
    assert "returned the same" in steps["download"][1]
    assert steps["rmavatar"][1].startswith("DELETE avatar 204, then GET avatar 404")
    assert "passed: 11 passed, 0 failed, 0 skipped" in result.stdout
    assert created is not None
    email, user_id = created.groups()
    assert email not in smoke_users(local_api.database_url)
    assert not [key for key in stored_keys(local_api.s3_endpoint) if user_id in key]
    assert_no_secrets(result.stdout + result.stderr, local_api.token)


def test_a_failing_upload_is_reported_and_the_created_user_is_still_deleted(
    local_api: LocalApi,
) -> None:
    # The presigned URLs go through a proxy where nothing listens: S3 is out of reach.
    unreachable = httpx.Client(proxy=f"http://127.0.0.1:{free_port()}", timeout=5)
    lines: list[str] = []

    passed = run_smoke(local_api.url, local_api.token, storage=unreachable, out=lines.append)
    steps = verdicts("\n".join(lines))

    assert passed is False
    assert steps["create"][0] == steps["patch"][0] == "PASS"
    assert steps["upload"][0] == "FAIL"
    assert "ConnectError" in steps["upload"][1]
    assert steps["download"][0] == steps["rmavatar"][0] == steps["delete"][0] == "SKIP"
    assert steps["cleanup"][0] == "PASS"
    assert steps["cleanup"][1].startswith("deleted smoke-")
    assert smoke_users(local_api.database_url) == []
    assert_no_secrets("\n".join(lines), local_api.token)


def test_a_token_from_another_signer_fails_the_me_step_without_printing_it(
    local_api: LocalApi,
) -> None:
    forged = sign_token(new_private_key_pem(), subject="local|admin@example.com")

    result = smoke(local_api.url, forged)
    steps = verdicts(result.stdout)

    assert result.returncode == 1
    assert steps["health"][0] == "PASS"
    assert steps["me"][0] == "FAIL"
    assert "answered 401" in steps["me"][1]
    assert {steps[name][0] for name in STEP_NAMES[2:-1]} == {"SKIP"}
    assert steps["cleanup"] == ("PASS", "nothing left behind")
    assert "FAILED: 2 passed, 1 failed, 8 skipped" in result.stdout
    assert_no_secrets(result.stdout + result.stderr, forged)


def test_a_customer_token_fails_and_its_own_registration_is_removed(local_api: LocalApi) -> None:
    email = f"smoke-customer-{uuid.uuid4().hex[:8]}@example.com"
    token = make_token(local_api.environment, "customer", email)
    # `make token` registered them; the smoke test should be the one that registers them. Only
    # the row goes: deleting the user through the API would remove their identity too, and a
    # token whose identity is gone may not register (tests/test_identities.py).
    engine = create_engine(local_api.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM users WHERE email = :email"), {"email": email})
    finally:
        engine.dispose()

    result = smoke(local_api.url, token)
    steps = verdicts(result.stdout)

    assert result.returncode == 1
    assert steps["me"][0] == "FAIL"
    assert "POST 201" in steps["me"][1]
    assert "needs an admin" in steps["me"][1]
    assert steps["cleanup"][0] == "PASS"
    assert "the registration of the me step" in steps["cleanup"][1]
    assert smoke_users(local_api.database_url) == []


def test_a_url_where_nothing_listens_fails_at_health() -> None:
    result = smoke(f"http://127.0.0.1:{free_port()}", "some-token")
    steps = verdicts(result.stdout)

    assert result.returncode == 1
    assert steps["health"] == ("FAIL", "ConnectError: [Errno 111] Connection refused")
    assert steps["cleanup"] == ("PASS", "nothing left behind")


def test_a_server_that_never_answers_fails_after_the_timeout() -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]

        result = smoke(f"http://127.0.0.1:{port}", "some-token", "--timeout", "1")
    steps = verdicts(result.stdout)

    assert result.returncode == 1
    assert steps["health"] == ("FAIL", "no answer within 1 s (ReadTimeout)")
    assert steps["cleanup"] == ("PASS", "nothing left behind")


@pytest.mark.parametrize(
    ("argv", "token", "message"),
    [
        (["--url", "http://127.0.0.1:8000"], "", "set TOKEN"),
        ([], "a-token", "--url"),
        (["--url", "127.0.0.1:8000"], "a-token", "http(s) URL"),
    ],
)
def test_missing_or_malformed_arguments_are_usage_errors(
    argv: list[str],
    token: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TOKEN", token)

    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_redact_masks_the_token_jwts_and_presigned_signatures() -> None:
    jwt = sign_token(new_private_key_pem(), subject="someone")
    line = (
        f"opaque-token {jwt} https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2Fx"
        "&X-Amz-Security-Token=IQoJb3&X-Amz-Signature=0a1b2c3d4e5f&X-Amz-Expires=300"
    )

    masked = redact(line, "opaque-token")

    assert masked == (
        "<token> <jwt> https://b.s3.amazonaws.com/k?X-Amz-Credential=***"
        "&X-Amz-Security-Token=***&X-Amz-Signature=***&X-Amz-Expires=300"
    )

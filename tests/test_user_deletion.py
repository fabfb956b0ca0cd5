"""Deleting a user: one short write, then the files after the commit, retried by the outbox.

Faults are injected where S3 meets botocore (an event handler on the app's S3 client fails
or "kills" the attempt), never inside the service's own code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from botocore.exceptions import EndpointConnectionError
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app.crud.outbox import MAX_ATTEMPTS, retry_delay
from lambda_app.db import get_engine
from lambda_app.external_services import aws
from lambda_app.external_services.outbox_metrics import (
    DEAD_LETTERED,
    OLDEST_PENDING_AGE,
    PENDING,
)
from lambda_app.sweep import handler as sweeper
from tests.conftest import ADMIN_SUBJECT, ROOT, TEST_BUCKET, bearer, insert_user
from tests.routers.test_users import assert_problem
from tests.test_metrics import extracted


def put_files(s3: Any, user_id: str, *names: str) -> None:
    for name in names:
        s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{user_id}/{name}", Body=b"x")


def files_of(s3: Any, user_id: str) -> list[str]:
    listing = s3.list_object_versions(Bucket=TEST_BUCKET, Prefix=f"users/{user_id}/")
    return sorted(item["Key"] for item in listing.get("Versions", []))


def tasks(db_engine: Engine) -> list[dict[str, Any]]:
    """Every outbox task, with whether it is due now and its delay until then."""
    with db_engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT kind, subject, attempts, last_error, dead_lettered_at IS NOT NULL AS dead,"
                " next_attempt_at <= now() AS due, next_attempt_at - now() AS wait"
                " FROM outbox_tasks ORDER BY id"
            )
        )
        return [dict(row._mapping) for row in rows]


def open_transactions(db_engine: Engine) -> int:
    """How many other sessions on the test database are inside a transaction right now."""
    with db_engine.connect() as connection:
        return int(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND xact_start IS NOT NULL AND pid <> pg_backend_pid()"
                )
            )
            or 0
        )


def make_due(db_engine: Engine) -> None:
    """Move time on for the outbox: every lease and backoff is over."""
    with db_engine.begin() as connection:
        connection.execute(text("UPDATE outbox_tasks SET next_attempt_at = now()"))


def on_s3_attempt(hook: Callable[..., None]) -> None:
    """Call `hook` before each attempt the app's S3 client sends, ahead of moto's answer."""
    aws.get_s3_client().meta.events.register_first("before-send.s3", hook)


def refuse(**_: Any) -> None:
    raise EndpointConnectionError(endpoint_url="https://s3.test")


def drain() -> dict[str, int]:
    return sweeper({"action": "drain"})


# --- the request


def test_a_delete_removes_the_files_after_its_commit_and_leaves_no_task(
    client: TestClient, make_user: Any, s3: Any, db_engine: Engine
) -> None:
    user = make_user()
    put_files(s3, user["id"], "avatar", "documents/cv.pdf")

    assert client.delete(f"/users/{user['id']}").status_code == 204

    assert files_of(s3, user["id"]) == []
    assert tasks(db_engine) == []


def test_a_delete_holds_no_pooled_connection_and_no_transaction_while_s3_works(
    client: TestClient, make_user: Any, s3: Any, db_engine: Engine
) -> None:
    user = make_user()
    put_files(s3, user["id"], "avatar")
    seen: list[tuple[int, int]] = []

    def probe(**_: Any) -> None:
        seen.append((get_engine().pool.checkedout(), open_transactions(db_engine)))

    on_s3_attempt(probe)
    assert client.delete(f"/users/{user['id']}").status_code == 204

    assert seen, "the delete never called S3"
    assert set(seen) == {(0, 0)}


def test_the_s3_client_is_built_before_a_delete_opens_its_transaction(
    client: TestClient, db_engine: Engine
) -> None:
    import boto3

    # An admin is deleted in a transaction (it takes the admin lock): the longest path.
    second = insert_user(db_engine, email="second@example.com", user_type="admin", subject="two")
    aws.reset_s3_client()
    boto3.setup_default_session()
    in_transaction: list[int] = []

    def probe(**_: Any) -> None:
        in_transaction.append(open_transactions(db_engine))

    boto3.DEFAULT_SESSION.events.register("creating-client-class.s3", probe)  # type: ignore[union-attr]
    try:
        assert client.delete(f"/users/{second}").status_code == 204
    finally:
        boto3.DEFAULT_SESSION = None

    assert in_transaction == [0]


def test_s3_failing_after_the_commit_answers_202_and_the_drain_finishes_the_files(
    client: TestClient, make_user: Any, s3: Any, db_engine: Engine
) -> None:
    user = make_user()
    put_files(s3, user["id"], "avatar")
    on_s3_attempt(refuse)

    response = client.delete(f"/users/{user['id']}")

    assert response.status_code == 202
    assert response.json() == {"id": user["id"], "files": "pending"}
    assert_problem(client.get(f"/users/{user['id']}"), 404)
    (task,) = tasks(db_engine)
    assert (task["kind"], task["subject"], task["attempts"]) == ("delete_user_files", user["id"], 1)
    assert "EndpointConnectionError" in task["last_error"]
    assert files_of(s3, user["id"]) == ["users/" + user["id"] + "/avatar"]

    aws.reset_s3_client()  # S3 is back
    make_due(db_engine)
    assert drain()["done"] == 1

    assert files_of(s3, user["id"]) == []
    assert tasks(db_engine) == []


# A Lambda container whose process ends at its first S3 attempt (os._exit: no cleanup).
KILLED_AT_FIRST_S3_ATTEMPT = """
import os, sys
from fastapi.testclient import TestClient
from lambda_app.external_services import aws
from lambda_app.main import create_app

aws.get_s3_client().meta.events.register_first("before-send.s3", lambda **_: os._exit(137))
headers = {"Authorization": sys.argv[2]}
TestClient(create_app(), headers=headers).delete(f"/users/{sys.argv[1]}")
"""


def test_a_container_killed_between_the_commit_and_s3_leaves_a_task_the_drain_finishes(
    client: TestClient, make_user: Any, s3: Any, db_engine: Engine, admin: dict[str, Any]
) -> None:
    user = make_user()
    put_files(s3, user["id"], "avatar", "old/avatar")

    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_AT_FIRST_S3_ATTEMPT,
            user["id"],
            admin["headers"]["Authorization"],
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        timeout=120,
    )

    assert killed.returncode == 137, killed.stderr.decode()[-2000:]
    # The user is gone with its task; the task is under the dead request's lease.
    assert_problem(client.get(f"/users/{user['id']}"), 404)
    (task,) = tasks(db_engine)
    assert (task["attempts"], task["last_error"], task["due"]) == (1, None, False)
    assert drain()["done"] == 0
    assert len(files_of(s3, user["id"])) == 2

    make_due(db_engine)  # the lease is over
    assert drain() == {"done": 1, "failed": 0, "pending": 0, "dead_lettered": 0}
    assert files_of(s3, user["id"]) == []


def test_a_failing_task_backs_off_exponentially_then_is_dead_lettered_and_alarms(
    client: TestClient, make_user: Any, s3: Any, db_engine: Engine, capsys: Any
) -> None:
    user = make_user()
    on_s3_attempt(refuse)
    assert client.delete(f"/users/{user['id']}").status_code == 202

    waits: list[timedelta] = [tasks(db_engine)[0]["wait"]]
    for _ in range(2, MAX_ATTEMPTS + 1):
        make_due(db_engine)
        on_s3_attempt(refuse)  # each drain builds the app's client anew
        assert drain()["failed"] == 1
        waits.append(tasks(db_engine)[0]["wait"])
        aws.reset_s3_client()

    (task,) = tasks(db_engine)
    assert (task["attempts"], task["dead"]) == (MAX_ATTEMPTS, True)
    for attempt, wait in enumerate(waits[:-1], start=1):
        # Each wait is the backoff of that attempt, give or take the test's own time.
        assert retry_delay(attempt) - timedelta(seconds=30) < wait <= retry_delay(attempt)
    make_due(db_engine)
    capsys.readouterr()

    assert drain() == {"done": 0, "failed": 0, "pending": 0, "dead_lettered": 1}

    metrics = extracted(capsys.readouterr().out.splitlines()[-1])
    assert metrics[("UsersService", DEAD_LETTERED)] == {"service": "users-outbox", "value": 1}
    assert metrics[("UsersService", PENDING)]["value"] == 0


def test_a_redrive_makes_dead_letters_pending_and_the_next_drain_finishes_them(
    client: TestClient, make_user: Any, s3: Any, db_engine: Engine
) -> None:
    user = make_user()
    put_files(s3, user["id"], "avatar")
    on_s3_attempt(refuse)
    assert client.delete(f"/users/{user['id']}").status_code == 202
    with db_engine.begin() as connection:
        connection.execute(
            text("UPDATE outbox_tasks SET dead_lettered_at = now(), attempts = :most"),
            {"most": MAX_ATTEMPTS},
        )
    aws.reset_s3_client()

    assert sweeper({"action": "redrive"}) == {"redriven": 1}
    assert drain()["done"] == 1

    assert files_of(s3, user["id"]) == []
    assert tasks(db_engine) == []


def test_the_drain_reports_how_far_behind_cleanup_is_as_metrics(
    app_env: dict[str, str], s3: Any, db_engine: Engine, capsys: Any
) -> None:
    with db_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox_tasks (kind, subject, payload, created_at, next_attempt_at,"
                " dead_lettered_at) VALUES"
                " ('delete_user_files', 'a', '{}', now() - interval '2 hours',"
                "  now() + interval '1 hour', NULL),"
                " ('delete_user_files', 'b', '{}', now() - interval '9 hours', now(), now())"
            )
        )

    assert drain() == {"done": 0, "failed": 0, "pending": 1, "dead_lettered": 1}

    line = capsys.readouterr().out.splitlines()[-1]
    metrics = extracted(line)
    age = metrics[("UsersService", OLDEST_PENDING_AGE)]
    assert 7_200 <= age["value"] < 7_260
    assert metrics[("UsersService", PENDING)] == {"service": "users-outbox", "value": 1}
    assert metrics[("UsersService", DEAD_LETTERED)] == {"service": "users-outbox", "value": 1}
    units = {
        m["Name"]: m["Unit"] for m in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert units[OLDEST_PENDING_AGE] == "Seconds"


def test_an_empty_outbox_still_reports_so_a_silent_drain_can_alarm(
    app_env: dict[str, str], s3: Any, capsys: Any
) -> None:
    assert drain() == {"done": 0, "failed": 0, "pending": 0, "dead_lettered": 0}

    metrics = extracted(capsys.readouterr().out.splitlines()[-1])
    assert metrics[("UsersService", OLDEST_PENDING_AGE)]["value"] == 0


def test_an_admin_is_deleted_with_their_files_task_in_one_transaction(
    client: TestClient, s3: Any, db_engine: Engine
) -> None:
    second = insert_user(db_engine, email="second@example.com", user_type="admin", subject="two")
    put_files(s3, second, "avatar")
    on_s3_attempt(refuse)

    response = client.delete(f"/users/{second}", headers=bearer(ADMIN_SUBJECT))

    assert response.status_code == 202
    assert [task["subject"] for task in tasks(db_engine)] == [second]


def test_a_task_of_a_kind_this_release_does_not_know_waits_and_shows_in_the_backlog(
    app_env: dict[str, str], s3: Any, db_engine: Engine
) -> None:
    # As a rollback leaves it: a later release enqueued a kind this one cannot run.
    with db_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox_tasks (kind, subject, payload)"
                " VALUES ('a_later_kind', 'x', '{}')"
            )
        )

    assert drain() == {"done": 0, "failed": 0, "pending": 1, "dead_lettered": 0}
    (task,) = tasks(db_engine)
    assert (task["attempts"], task["last_error"]) == (0, None)

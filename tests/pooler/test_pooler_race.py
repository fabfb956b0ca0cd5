"""Through a transaction pooler with fewer server connections than clients: only right answers."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from lambda_app.config import get_settings
from lambda_app.db import create_engine_from_settings, dispose_engine
from lambda_app.main import create_app
from tests.conftest import as_app_role, settings_env
from tests.pooler.conftest import StartPooler

THREADS = 3
STATEMENTS_PER_THREAD = 200
WORKERS_TIMEOUT_SECONDS = 120.0


def run_together(threads: int, work: Callable[[int], None]) -> None:
    """Run `work(index)` in `threads` threads that start at the same moment; wait for all."""
    barrier = threading.Barrier(threads)

    def start(index: int) -> None:
        barrier.wait()
        work(index)

    # Daemons: a worker stuck on the pooler must fail the test, not hold the run open.
    workers = [
        threading.Thread(target=start, args=(index,), daemon=True) for index in range(threads)
    ]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + WORKERS_TIMEOUT_SECONDS
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(worker.is_alive() for worker in workers), "a worker hangs"


def routed_app() -> FastAPI:
    """A new app whose routers built their route caches on this thread.

    FastAPI builds them on an app's first request, without a lock: first requests from
    several threads at once can race there (fastapi/fastapi#15974). A process that serves
    one app, as Lambda and uvicorn do, never sends them that way.
    """
    app = create_app()
    TestClient(app).get("/no-such-route")  # matched against every route, so every cache
    return app


def test_three_clients_on_one_server_connection_each_get_their_own_answers(
    start_pooler: StartPooler, database_url: str
) -> None:
    outcomes: Counter[str] = Counter()
    examples: list[str] = []

    def client(index: int) -> None:
        who = f"thread-{index}"
        # Statement text differs per thread: another thread's statement gives another `who`.
        statement = text(f"SELECT CAST(:n AS integer) AS n, '{who}' AS who")
        with engine.connect() as connection:
            for n in range(STATEMENTS_PER_THREAD):
                try:
                    row = connection.execute(statement, {"n": n * 10 + index}).one()
                except Exception as error:  # every failure counts, whatever its type
                    outcomes["error"] += 1
                    examples.append(f"{who}: {type(error).__name__}: {error}"[:200])
                    connection.rollback()
                    continue
                good = (row.n, row.who) == (n * 10 + index, who)
                outcomes["right" if good else "wrong"] += 1
                if not good and len(examples) < 5:
                    examples.append(f"{who} asked {n * 10 + index}, got {tuple(row)}")

    with start_pooler(1) as pooler:
        url = pooler.url_for(as_app_role(database_url))
        with settings_env(DATABASE_URL=url, DB_POOL_SIZE=str(THREADS)):
            engine = create_engine_from_settings(get_settings(), autocommit=True)
            try:
                run_together(THREADS, client)
            finally:
                engine.dispose()

    assert outcomes["right"] == THREADS * STATEMENTS_PER_THREAD, (dict(outcomes), examples)


def test_a_mixed_api_workload_through_the_pooler_gets_only_right_answers(
    start_pooler: StartPooler, database_url: str, s3: Any, admin: dict[str, Any]
) -> None:
    clients, rounds = 6, 15
    statuses: Counter[int] = Counter()
    wrong: list[str] = []

    apps: list[FastAPI] = []

    def workload(index: int) -> None:
        api = TestClient(apps[index], raise_server_exceptions=False, headers=admin["headers"])

        def call(method: str, path: str, expected: int, **kwargs: Any) -> dict[str, Any]:
            response = api.request(method, path, **kwargs)
            statuses[response.status_code] += 1
            if response.status_code != expected:
                wrong.append(f"client {index} {method} {path}: {response.status_code}")
                return {}
            return dict(response.json()) if response.content else {}

        for round_ in range(rounds):
            email = f"load-{index}-{round_}-{uuid.uuid4().hex[:6]}@example.com"
            name = f"Client {index} round {round_}"
            created = call("POST", "/users", 201, json={"email": email})
            if not created:
                continue
            path = f"/users/{created['id']}"
            patched = call("PATCH", path, 200, json={"full_name": name})
            read = call("GET", path, 200)
            listed = call("GET", "/users", 200, params={"limit": 5})
            me = call("GET", "/users/me", 200)
            call("DELETE", path, 204)
            call("GET", path, 404)
            if (patched.get("email"), read.get("email")) != (email, email):
                wrong.append(f"client {index} got another user: {patched} {read}")
            if read.get("full_name") != name:
                wrong.append(f"client {index} read another client's write: {read}")
            if me.get("id") != admin["id"] or len(listed.get("items", [])) > 5:
                wrong.append(f"client {index} wrong me or list: {me} {listed}")

    with start_pooler(2) as pooler:
        url = pooler.url_for(as_app_role(database_url))
        with settings_env(DATABASE_URL=url, DB_POOL_SIZE=str(clients)):
            apps.extend(routed_app() for _ in range(clients))
            try:
                run_together(clients, workload)
            finally:
                dispose_engine()

    server_errors = sum(count for status, count in statuses.items() if status >= 500)
    assert (server_errors, len(wrong)) == (0, 0), (dict(statuses), wrong[:10])
    assert sum(statuses.values()) == clients * rounds * 7

"""`make load`: a mixed workload from concurrent clients for a bounded time, then the figures.

Starts the local server (`python -m local.run` on embedded services) unless `--url` is given,
in which case `--token` (an admin's bearer token) is needed too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from local.embedded_postgres import EmbeddedPostgres, free_port
from local.run import LOCAL_DATABASE

ROOT = Path(__file__).resolve().parent.parent
# Operation -> weight in the mix.
MIX = {"create": 15, "read": 30, "list": 25, "update": 15, "delete": 5, "avatar": 10}
EXPECTED = {"create": 201, "read": 200, "list": 200, "update": 200, "delete": 204, "avatar": 201}


@dataclass
class Tally:
    """What the clients saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


async def client_loop(api: httpx.AsyncClient, deadline: float, tally: Tally, seed: int) -> None:
    """One client: pick an operation by weight, run it, record it, until the deadline."""
    rng = random.Random(seed)  # noqa: S311 - a workload mix, not a secret
    mine: list[str] = []
    operations, weights = list(MIX), list(MIX.values())
    while time.monotonic() < deadline:
        operation = rng.choices(operations, weights)[0]
        if operation in ("read", "update", "delete", "avatar") and not mine:
            operation = "create"
        started = time.perf_counter()
        try:
            response = await _run(api, operation, mine, rng)
        except httpx.HTTPError as error:
            tally.errors[f"{operation}: {type(error).__name__}"] += 1
            continue
        tally.latencies[operation].append(time.perf_counter() - started)
        tally.statuses[(operation, response.status_code)] += 1
        if response.status_code != EXPECTED[operation]:
            tally.errors[f"{operation}: HTTP {response.status_code}"] += 1


async def _run(
    api: httpx.AsyncClient, operation: str, mine: list[str], rng: random.Random
) -> httpx.Response:
    if operation == "create":
        response = await api.post("/users", json={"email": f"load-{uuid.uuid4().hex}@example.com"})
        if response.status_code == 201:
            mine.append(response.json()["id"])
        return response
    if operation == "list":
        return await api.get("/users", params={"limit": 20, "offset": rng.randrange(0, 200)})
    user_id = rng.choice(mine)
    if operation == "read":
        return await api.get(f"/users/{user_id}")
    if operation == "update":
        return await api.patch(f"/users/{user_id}", json={"full_name": f"Name {rng.random()}"})
    if operation == "avatar":
        return await api.post(f"/users/{user_id}/avatar", json={"content_type": "image/png"})
    mine.remove(user_id)
    return await api.delete(f"/users/{user_id}")


async def drive(url: str, token: str, clients: int, seconds: float) -> Tally:
    """Run `clients` concurrent clients against `url` for `seconds`."""
    tally = Tally()
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them, or a
    # request may race the server's close and fail with a ReadError.
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2
    )
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        limits=limits,
        timeout=30,
    ) as api:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(client_loop(api, deadline, tally, seed) for seed in range(clients)))
    return tally


@contextmanager
def connection_sampler(database_url: str | None) -> Iterator[list[int]]:
    """Count the service's PostgreSQL connections every 0.2 s while the load runs."""
    samples: list[int] = []
    if database_url is None:
        yield samples
        return
    stop = threading.Event()
    engine = create_engine(database_url, pool_size=1)

    def sample() -> None:
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'users-service'"
        )
        with engine.connect() as connection:
            while not stop.wait(0.2):
                samples.append(int(connection.scalar(query) or 0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        stop.set()
        sampler.join(timeout=5)
        engine.dispose()


@contextmanager
def local_server(data_dir: Path) -> Iterator[tuple[str, str, str]]:
    """Start `make run`'s server in a subprocess; yield its URL, an admin token, its DB URL."""
    port, pg_port, s3_port = free_port(), free_port(), free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AUTH_", "DATABASE_URL", "S3_"))
    }
    environment.update(
        PORT=str(port),
        LOCAL_PG_PORT=str(pg_port),
        LOCAL_S3_PORT=str(s3_port),
        LOCAL_DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
    )
    log_file = (data_dir / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "local.run"],
        cwd=ROOT,
        env=environment,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for(f"{url}/health", server)
        token = subprocess.run(
            [sys.executable, "-m", "local.token", "--user-type", "admin"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        database_url = EmbeddedPostgres(data_dir / "postgres", port=pg_port).url_for(LOCAL_DATABASE)
        yield url, token, database_url
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        log_file.close()


def _wait_for(url: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the local server exited during start-up")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def report(tally: Tally, seconds: float, clients: int, connections: list[int]) -> int:
    """Print the figures; return the error count."""
    every = sorted(latency for values in tally.latencies.values() for latency in values)
    total = len(every)
    errors = sum(tally.errors.values())
    print(f"\n{clients} clients for {seconds:.0f} s: {total} requests, {total / seconds:.0f} req/s")
    print(f"{'operation':<10}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for operation, values in sorted(tally.latencies.items()):
        print(
            f"{operation:<10}{len(values):>8}"
            + "".join(f"{_ms(values, q):>9.1f}" for q in (50, 95, 99))
        )
    print(f"{'all':<10}{total:>8}" + "".join(f"{_ms(every, q):>9.1f}" for q in (50, 95, 99)))
    print(f"errors: {errors}" + (f" {dict(tally.errors)}" if errors else ""))
    if connections:
        print(
            f"PostgreSQL connections held by the service: max {max(connections)}, "
            f"median {statistics.median(connections):.0f}"
        )
    return errors


def _ms(values: list[float], percentile: int) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percentile / 100))] * 1000


def main(argv: list[str] | None = None) -> int:
    """Drive the load and print the figures; exit non-zero when any request failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a running API; default: start the local server")
    parser.add_argument("--token", default=os.environ.get("TOKEN"), help="admin bearer token")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.seconds > 600 or not 1 <= args.clients <= 500:
        parser.error("--seconds must be in (0, 600] and --clients in [1, 500]")

    if args.url:
        if not args.token:
            parser.error("--url needs --token (or TOKEN) of an admin")
        tally = asyncio.run(drive(args.url, args.token, args.clients, args.seconds))
        return 1 if report(tally, args.seconds, args.clients, []) else 0

    data_dir = ROOT / ".local" / "load"
    data_dir.mkdir(parents=True, exist_ok=True)
    with (
        local_server(data_dir) as (url, token, database_url),
        connection_sampler(database_url) as connections,
    ):
        tally = asyncio.run(drive(url, token, args.clients, args.seconds))
    return 1 if report(tally, args.seconds, args.clients, connections) else 0


if __name__ == "__main__":
    sys.exit(main())

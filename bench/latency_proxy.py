"""A TCP relay in front of PostgreSQL that delays every byte by a fixed time per direction.

It mirrors Lambda -> RDS Proxy -> RDS: each round trip to the database pays the delay twice.
`python -m bench.latency_proxy --target 127.0.0.1:5432 --delay-ms 0.5` prints
`listening on HOST:PORT` and relays until stopped; `running()` starts it in a child process
(so the relay never competes with the measured handlers for the GIL) for the bench.
"""

from __future__ import annotations

import argparse
import asyncio
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.cores import run_on
from lambda_app.pg_driver import SingleExchangeConnection

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DELAY_MS = 0.5
READY = "listening on "
CHUNK = 65536
CALIBRATION_SLEEPS = 50
# The scheduler's lateness does not grow with the sleep: delays of seconds (`make load`'s
# slow S3) are calibrated with sleeps this long, so that starting takes no 50 delays.
CALIBRATION_MAX_SECONDS = 0.005
MEASURE_SAMPLES = 300


async def sleep_overshoot(delay: float) -> float:
    """How much longer than asked a sleep of `delay` seconds takes here (the median)."""
    loop = asyncio.get_running_loop()
    overshoots = []
    for _ in range(CALIBRATION_SLEEPS):
        started = loop.time()
        await asyncio.sleep(delay)
        overshoots.append(loop.time() - started - delay)
    return max(0.0, statistics.median(overshoots))


async def _relay(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, overshoot: float
) -> None:
    """Forward what `reader` receives to `writer`, each chunk `delay` seconds after arrival.

    Sleeps are cut short by `overshoot`, the scheduler's usual lateness, so that chunks
    leave on time on average.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time() - overshoot
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(forward())
    try:
        while data := await reader.read(CHUNK):
            queue.put_nowait((loop.time() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((loop.time() + delay, b""))
    try:
        await sender
    except ConnectionError:
        pass
    finally:
        writer.close()


def _no_delay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def serve(target_host: str, target_port: int, delay_ms: float, port: int = 0) -> None:
    """Relay connections on 127.0.0.1:`port` (0: any free port) to the target, forever."""
    delay = delay_ms / 1000
    overshoot = await sleep_overshoot(min(delay, CALIBRATION_MAX_SECONDS)) if delay else 0.0

    async def connected(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        server_reader, server = await asyncio.open_connection(target_host, target_port)
        _no_delay(client)
        _no_delay(server)
        await asyncio.gather(
            _relay(client_reader, server, delay, overshoot),
            _relay(server_reader, client, delay, overshoot),
        )

    listener = await asyncio.start_server(connected, "127.0.0.1", port)
    host, bound = listener.sockets[0].getsockname()[:2]
    print(f"{READY}{host}:{bound}", flush=True)
    async with listener:
        await listener.serve_forever()


def _loop() -> asyncio.AbstractEventLoop:
    # select() waits with microsecond resolution; epoll and poll round waits up to whole
    # milliseconds, which would turn a 0.5 ms delay into 1 ms.
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


@contextmanager
def running(
    target_host: str, target_port: int, delay_ms: float, cores: frozenset[int] | None = None
) -> Iterator[tuple[str, int]]:
    """Run the relay in a child process (on `cores`, if given); yield its (host, port)."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.latency_proxy",
            "--target",
            f"{target_host}:{target_port}",
            "--delay-ms",
            str(delay_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
    )
    try:
        if cores is not None:
            run_on(cores, child.pid)
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith(READY):
            raise RuntimeError(f"the latency proxy did not start: {line!r}")
        host, port = line[len(READY) :].strip().rsplit(":", 1)
        yield host, int(port)
    finally:
        child.terminate()
        child.wait(timeout=10)


def _open(url: str) -> SingleExchangeConnection:
    parsed = make_url(url)
    connection = SingleExchangeConnection(
        user=parsed.username or "postgres",
        password=parsed.password,
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        database=parsed.database,
    )
    connection.autocommit = True
    return connection


def added_round_trip_us(direct_url: str, proxied_url: str, samples: int = MEASURE_SAMPLES) -> float:
    """The median extra time of one exchange (SELECT 1) through the proxy, in microseconds."""
    times: dict[str, list[float]] = {direct_url: [], proxied_url: []}
    connections = {url: _open(url) for url in times}
    try:
        for _ in range(samples):
            for url, connection in connections.items():
                cursor = connection.cursor()
                started = time.perf_counter_ns()
                cursor.execute("SELECT 1")
                cursor.fetchall()
                times[url].append((time.perf_counter_ns() - started) / 1000)
    finally:
        for connection in connections.values():
            connection.close()
    return round(statistics.median(times[proxied_url]) - statistics.median(times[direct_url]), 1)


def main(argv: list[str] | None = None) -> None:
    """Parse the target and delay, then relay until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m bench.latency_proxy", description=__doc__)
    parser.add_argument("--target", required=True, help="HOST:PORT of PostgreSQL")
    parser.add_argument("--delay-ms", type=float, default=DEFAULT_DELAY_MS)
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any)")
    arguments = parser.parse_args(argv)
    host, port = arguments.target.rsplit(":", 1)
    loop = _loop()
    try:
        loop.run_until_complete(serve(host, int(port), arguments.delay_ms, arguments.port))
    except KeyboardInterrupt:
        pass
    finally:
        loop.close()


if __name__ == "__main__":
    main()

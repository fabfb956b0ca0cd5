"""One load pass: a fresh stack, the containers, the mix for a while, then the checks."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine

from local.load.fleet import ApiRequest, Identity, running_fleet
from local.load.invariants import (
    DEADLOCK_LOGGED,
    Check,
    database_checks,
    deadlocks_counted,
    no_deadlock,
    no_server_errors,
    no_stale_write,
    own_writes_never_go_backwards,
    replays_return_the_first,
    sign_up_twins_told_their_own_account,
)
from local.load.pool_watch import PoolFigures, PoolWatch
from local.load.scenarios import SCENARIOS, create
from local.load.stack import PassStack, Services, pass_stack
from local.load.tally import Evidence, Tally
from local.load.workload import ME, ROOT_ADMIN, USERS, KnownUser, World, route, version_in

# Scenario loops per container: a loop waiting on a client upload leaves its container free.
LOOPS_PER_CONTAINER = 4
UPLOAD_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class LoadOptions:
    """How one pass runs: containers, server connections, duration, faults, mix."""

    workers: int = 8
    server_connections: int = 3
    seconds: float = 30.0
    s3_delay_ms: float = 0.0
    db_delay_ms: float = 0.0
    seed: int = 1
    seed_users: int = 16
    # A hot standby with a PgBouncer of its own, of that many server connections (0: none).
    reader_server_connections: int = 0
    # How late the standby applies each commit: a steady replica lag.
    replica_lag_ms: int = 0
    # The scenarios to run (default: the whole mix, by its weights).
    scenarios: tuple[str, ...] = tuple(SCENARIOS)


@dataclass
class PassResult:
    """What one pass measured and whether its invariants held."""

    options: LoadOptions
    tally: Tally
    evidence: Evidence
    seconds: float
    pool: PoolFigures
    init_ms: list[float]
    checks: list[Check] = field(default_factory=list)
    # The replica's PgBouncer, when the pass has a reader.
    reader_pool: PoolFigures | None = None

    @property
    def passed(self) -> bool:
        """Whether every invariant held."""
        return all(check.passed for check in self.checks)


def run_pass(services: Services, options: LoadOptions, log_folder: Path) -> PassResult:
    """Run one pass on a fresh database; check the invariants once its sessions are gone."""
    with pass_stack(
        services,
        root=ROOT_ADMIN,
        server_connections=options.server_connections,
        s3_delay_ms=options.s3_delay_ms,
        db_delay_ms=options.db_delay_ms,
        reader_server_connections=options.reader_server_connections,
        replica_lag_ms=options.replica_lag_ms,
    ) as stack:
        engine = create_engine(stack.superuser_url)
        try:
            with engine.connect() as connection:
                deadlocks_before = deadlocks_counted(connection)
            log_start = _log_size(services.server_log)
            result = _run_on_a_loop_of_its_own(_drive_pass(stack, options, log_folder))
            stack.stop_pooler()
            with engine.connect() as connection:
                checks = database_checks(connection)
                deadlocks = deadlocks_counted(connection) - deadlocks_before
        finally:
            engine.dispose()
    logged = _deadlocks_logged(services.server_log, log_start)
    result.checks = [
        no_server_errors(result.tally, s3_slowed=bool(options.s3_delay_ms)),
        *checks,
        replays_return_the_first(result.evidence),
        no_deadlock(deadlocks, logged),
        no_stale_write(result.evidence),
        sign_up_twins_told_their_own_account(result.evidence),
        own_writes_never_go_backwards(result.evidence),
    ]
    return result


async def _drive_pass(stack: PassStack, options: LoadOptions, log_folder: Path) -> PassResult:
    async with (
        running_fleet(options.workers, stack.container_environment, log_folder) as fleet,
        httpx.AsyncClient(timeout=UPLOAD_TIMEOUT_SECONDS) as uploads,
    ):
        rng = random.Random(options.seed)  # noqa: S311 - a workload mix, not a secret
        world = World(fleet, rng, uploads)
        await populate(world, options.seed_users)
        world.tally = Tally()  # the set-up is not measured
        poolers = [stack.pooler, *([stack.reader_pooler] if stack.reader_pooler else [])]
        watches = [
            PoolWatch(
                port=pooler.port,
                user=stack.superuser,
                password=stack.superuser_password,
                database=stack.database,
                role=stack.app_role,
            )
            for pooler in poolers
        ]
        for watch in watches:
            watch.start()
        seconds = await drive(world, options)
        pools = [watch.stop() for watch in watches]
    return PassResult(
        options=options,
        tally=world.tally,
        evidence=world.evidence,
        seconds=seconds,
        pool=pools[0],
        init_ms=[container.init_ms for container in fleet.containers],
        reader_pool=pools[1] if len(pools) > 1 else None,
    )


async def populate(world: World, seed_users: int) -> None:
    """Two more admins and a staff member, made and linked through the API; some customers."""
    for email, user_type in (
        ("admin-1@example.com", "admin"),
        ("admin-2@example.com", "admin"),
        (world.staff.email, "staff"),
    ):
        identity = Identity(subject=f"load|{email}", email=email)
        made = await world.call(
            ApiRequest(
                route("POST", USERS),
                USERS,
                ROOT_ADMIN,
                body={"email": email, "user_type": user_type},
            )
        )
        linked = await world.call(ApiRequest(route("POST", ME), ME, identity))
        version = version_in(linked)
        if made.status != 201 or linked.status != 200 or version is None:
            raise RuntimeError(f"the load's set-up failed: {made.body!r} then {linked.body!r}")
        if user_type == "admin":
            world.admins.append(KnownUser(made.field("id"), email, version, identity))
    await asyncio.gather(*(create(world) for _ in range(seed_users)))
    if len(world.users) < seed_users:
        raise RuntimeError(f"the load's set-up made {len(world.users)} of {seed_users} users")


async def drive(world: World, options: LoadOptions) -> float:
    """Run the mix from a few loops per container for `options.seconds`; return how long it took."""
    names = list(options.scenarios)
    weights = [SCENARIOS[name][0] for name in names]
    started = time.monotonic()
    deadline = started + options.seconds

    async def loop() -> None:
        while time.monotonic() < deadline:
            name = world.rng.choices(names, weights)[0]
            world.evidence.rounds[name] += 1
            await SCENARIOS[name][1](world)

    await asyncio.gather(*(loop() for _ in range(LOOPS_PER_CONTAINER * world.fleet.size)))
    return time.monotonic() - started


def _run_on_a_loop_of_its_own(work: Coroutine[Any, Any, PassResult]) -> PassResult:
    """Run `work` on a new event loop, leaving the thread's current loop as it was.

    `asyncio.run` would leave none behind, and the app's Mangum asks for the current loop
    when a test invokes the handler in the same process afterwards.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(work)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def _log_size(log: Path | None) -> int:
    return log.stat().st_size if log is not None and log.exists() else 0


def _deadlocks_logged(log: Path | None, start: int) -> int | None:
    """How often the server log says 'deadlock detected' after `start`; None without a log."""
    if log is None or not log.exists():
        return None
    with log.open("rb") as handle:
        handle.seek(start)
        return handle.read().count(DEADLOCK_LOGGED.encode())

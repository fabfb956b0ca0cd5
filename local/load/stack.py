"""What `make load` runs the containers on: PostgreSQL, PgBouncer, moto's S3 and the delay relays.

One PostgreSQL server and one S3 endpoint serve the whole run. Each pass gets a fresh
database, migrated to head, and its own PgBouncer in transaction mode with a small server
pool; the app logs in through it as its least-privilege role, as it does through RDS Proxy.
A delay relay (`bench.latency_proxy`) can sit in front of S3 and between PgBouncer and
PostgreSQL. With a reader, a hot standby of the server (`local.replica`) has a PgBouncer of
its own, and the containers find it in DB_READER_HOST / DB_READER_PORT.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.latency_proxy import running as delay_relay
from local.embedded_postgres import EmbeddedPostgres
from local.embedded_s3 import FAKE_CREDENTIALS, EmbeddedS3
from local.load.fleet import Identity
from local.pgbouncer import PgBouncer
from local.replica import delay_replay, start_standby, wait_for_replay
from local.run import LOCAL_BUCKET, app_role_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
MIGRATION_TIMEOUT_SECONDS = 300
SESSIONS_GONE_TIMEOUT_SECONDS = 15.0
# How long the standby may take to replay a pass's new database before the containers start.
REPLAY_TIMEOUT_SECONDS = 60.0
# What a Lambda function's environment says about it; the rest comes from each pass.
LAMBDA_ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": "users-api",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # The deployed default; the load reads the INFO line that names a list page's server.
    "LOG_LEVEL": "INFO",
    **FAKE_CREDENTIALS,
}
# Settings of the caller's own shell that would point the app elsewhere.
FOREIGN_PREFIXES = ("AUTH_", "AWS_", "APP_DB_", "DATABASE_URL", "DB_", "S3_")


@dataclass(frozen=True)
class Services:
    """The run's PostgreSQL server (as its superuser), its hot standby if any, S3's endpoint."""

    server_url: str
    server_log: Path | None
    s3_port: int
    replica_url: str | None = None

    @property
    def s3_endpoint(self) -> str:
        """The S3 endpoint's URL."""
        return f"http://127.0.0.1:{self.s3_port}"


@contextmanager
def shared_services(
    data_dir: Path, server_url: str | None = None, *, replica: bool = False
) -> Iterator[Services]:
    """Start moto's S3 and, unless `server_url` names one, an embedded PostgreSQL in `data_dir`.

    `replica`: also a hot standby of that embedded server (not of `server_url`'s: it is
    copied with the embedded installation's pg_basebackup, as the server's superuser).
    """
    if replica and server_url is not None:
        raise ValueError("a replica is made of the embedded server: pass no server_url with it")
    with ExitStack() as stack:
        server_log = replica_url = None
        if server_url is None:
            server = EmbeddedPostgres(data_dir / "postgres").start()
            stack.callback(server.stop)
            server_url, server_log = server.url, server.pgdata / "server.log"
            if replica:
                # A fresh copy each run: an old one may need WAL the server has since recycled.
                EmbeddedPostgres(data_dir / "standby").remove()
                standby = start_standby(server, data_dir / "standby")
                stack.callback(standby.remove)
                replica_url = standby.url
        s3 = EmbeddedS3(bucket=LOCAL_BUCKET, region=REGION, one_request_at_a_time=True).start()
        stack.callback(s3.stop)
        yield Services(
            server_url=server_url, server_log=server_log, s3_port=s3.port, replica_url=replica_url
        )


@dataclass
class PassStack:
    """One pass's database, its pooler and the environment its containers start with."""

    database: str
    superuser_url: str
    superuser: str
    superuser_password: str | None
    app_role: str
    pooler: PgBouncer
    container_environment: dict[str, str]
    # The replica's PgBouncer, when the pass has a reader.
    reader_pooler: PgBouncer | None = None

    def stop_pooler(self) -> None:
        """Stop the poolers; wait until the writer's sessions are gone (statistics flushed)."""
        if self.reader_pooler is not None:
            self.reader_pooler.stop()
        self.pooler.stop()
        engine = create_engine(self.superuser_url)
        deadline = time.monotonic() + SESSIONS_GONE_TIMEOUT_SECONDS
        sessions = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND usename = :role"
        )
        try:
            with engine.connect() as connection:
                while connection.scalar(sessions, {"role": self.app_role}):
                    connection.rollback()
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the sessions of {self.app_role} did not end")
                    time.sleep(0.05)
        finally:
            engine.dispose()


@contextmanager
def pass_stack(
    services: Services,
    *,
    root: Identity,
    server_connections: int,
    s3_delay_ms: float,
    db_delay_ms: float,
    reader_server_connections: int = 0,
    replica_lag_ms: int = 0,
) -> Iterator[PassStack]:
    """A fresh database with `root` as its admin, reached through PgBouncer and the relays.

    With `reader_server_connections` (and a replica in `services`), the replica gets a
    PgBouncer of its own with that many server connections, behind the same database delay,
    and applies each commit `replica_lag_ms` late.
    """
    database = f"users_load_{uuid.uuid4().hex[:10]}"
    superuser_url = make_url(services.server_url).set(database=database)
    admin = create_engine(services.server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        with ExitStack() as stack:
            url = superuser_url.render_as_string(hide_password=False)
            app_url = make_url(app_role_url(url))
            _migrate(url, app_url.username or "", app_url.password or "", root)
            s3_endpoint = services.s3_endpoint
            if s3_delay_ms:
                # The relay delays each direction: a request and its answer make one S3 call.
                host, port = stack.enter_context(
                    delay_relay("127.0.0.1", services.s3_port, s3_delay_ms / 2)
                )
                s3_endpoint = f"http://{host}:{port}"
            superuser = make_url(services.server_url)
            users = {
                str(superuser.username): superuser.password,
                str(app_url.username): app_url.password,
            }
            pooler = stack.enter_context(
                _pooler(stack, services.server_url, users, server_connections, db_delay_ms)
            )
            environment = {
                **_own_environment(),
                **LAMBDA_ENVIRONMENT,
                "DATABASE_URL": pooler.url_for(app_url.render_as_string(hide_password=False)),
                "S3_ENDPOINT_URL": s3_endpoint,
                "S3_BUCKET": LOCAL_BUCKET,
            }
            reader_pooler = None
            if reader_server_connections:
                if services.replica_url is None:
                    raise ValueError("a reader needs services started with a replica")
                delay_replay(services.replica_url, replica_lag_ms)
                # The containers' first page must find the new database on the replica.
                wait_for_replay(
                    services.server_url, services.replica_url, timeout=REPLAY_TIMEOUT_SECONDS
                )
                reader_pooler = stack.enter_context(
                    _pooler(
                        stack, services.replica_url, users, reader_server_connections, db_delay_ms
                    )
                )
                environment["DB_READER_HOST"] = "127.0.0.1"
                environment["DB_READER_PORT"] = str(reader_pooler.port)
            yield PassStack(
                database=database,
                superuser_url=url,
                superuser=str(superuser.username),
                superuser_password=superuser.password,
                app_role=str(app_url.username),
                pooler=pooler,
                container_environment=environment,
                reader_pooler=reader_pooler,
            )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _pooler(
    stack: ExitStack,
    server_url: str,
    users: dict[str, str | None],
    server_connections: int,
    db_delay_ms: float,
) -> PgBouncer:
    """PgBouncer before `server_url`'s server, through a delay relay when `db_delay_ms`."""
    server = make_url(server_url)
    if db_delay_ms:
        host, port = stack.enter_context(
            delay_relay(server.host or "", server.port or 5432, db_delay_ms)
        )
        server = server.set(host=host, port=port)
    return PgBouncer(
        server.render_as_string(hide_password=False),
        users=users,
        pool_size=server_connections,
        stats_users=[str(server.username)],
    )


def _own_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(FOREIGN_PREFIXES)}


def _migrate(superuser_url: str, role: str, password: str, root: Identity) -> None:
    environment = {
        **_own_environment(),
        "DATABASE_URL": superuser_url,
        "APP_DB_ROLE": role,
        "APP_DB_PASSWORD": password,
    }
    result = subprocess.run(
        [sys.executable, "-m", "local.load.schema", root.email, root.subject],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=MIGRATION_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the load database's migration failed:\n{result.stderr[-3000:]}")

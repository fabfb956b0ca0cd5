"""`python -m local.load`: Lambda-like containers on the local stack, or `--url` HTTP load."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from local.load.passes import LoadOptions
from local.load.remote import run_remote
from local.load.runner import run_load

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = LoadOptions()
MAX_SECONDS = 600
MAX_WORKERS = 64
# The replica's PgBouncer pool, smaller than the writer's: it serves list pages only.
READER_SERVER_CONNECTIONS = 2


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the load, return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m local.load", description=__doc__)
    lambda_mode = parser.add_argument_group("Lambda-like containers on the local stack")
    lambda_mode.add_argument("--workers", type=int, default=DEFAULTS.workers, help="containers")
    lambda_mode.add_argument(
        "--server-connections",
        type=int,
        default=DEFAULTS.server_connections,
        help="PgBouncer's server connections",
    )
    lambda_mode.add_argument("--s3-delay-ms", type=float, default=0.0, help="added per S3 call")
    lambda_mode.add_argument(
        "--db-delay-ms", type=float, default=0.0, help="added per direction, PgBouncer-PostgreSQL"
    )
    lambda_mode.add_argument("--seed", type=int, default=DEFAULTS.seed, help="the mix's seed")
    lambda_mode.add_argument(
        "--reader",
        action="store_true",
        help="a hot standby with its own PgBouncer as DB_READER_HOST; list pages send Read-After",
    )
    lambda_mode.add_argument(
        "--reader-server-connections",
        type=int,
        default=READER_SERVER_CONNECTIONS,
        help="the replica's PgBouncer's server connections (with --reader)",
    )
    lambda_mode.add_argument(
        "--replica-lag-ms",
        type=int,
        default=0,
        help="the replica applies each commit this late (with --reader)",
    )
    remote = parser.add_argument_group("HTTP clients on a deployed API")
    remote.add_argument("--url", help="the API's base URL")
    remote.add_argument("--token", default=os.environ.get("TOKEN"), help="an admin's bearer token")
    remote.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=DEFAULTS.seconds, help="per pass")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}]")

    if args.url:
        if not args.token:
            parser.error("--url needs --token (or TOKEN) of an admin")
        if not 1 <= args.clients <= 500:
            parser.error("--clients must be in [1, 500]")
        return run_remote(args.url, args.token, args.clients, args.seconds)

    if not 2 <= args.workers <= MAX_WORKERS or args.server_connections < 1:
        parser.error(f"--workers must be in [2, {MAX_WORKERS}], --server-connections at least 1")
    if args.s3_delay_ms < 0 or args.db_delay_ms < 0:
        parser.error("delays cannot be negative")
    if args.reader_server_connections < 1 or args.replica_lag_ms < 0:
        parser.error("--reader-server-connections must be at least 1, --replica-lag-ms at least 0")
    options = LoadOptions(
        workers=args.workers,
        server_connections=args.server_connections,
        seconds=args.seconds,
        s3_delay_ms=args.s3_delay_ms,
        db_delay_ms=args.db_delay_ms,
        seed=args.seed,
        reader_server_connections=args.reader_server_connections if args.reader else 0,
        replica_lag_ms=args.replica_lag_ms,
    )
    return run_load(options, data_dir=ROOT / ".local" / "load")


if __name__ == "__main__":
    sys.exit(main())

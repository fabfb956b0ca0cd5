"""`make run`: the API on http://HOST:PORT with an embedded PostgreSQL and S3 unless configured."""

from __future__ import annotations

import os
import signal
import sys
from contextlib import ExitStack, suppress
from pathlib import Path

from sqlalchemy import create_engine, text

from local.embedded_postgres import EmbeddedPostgres
from local.embedded_s3 import FAKE_CREDENTIALS, EmbeddedS3

ROOT = Path(__file__).resolve().parent.parent
LOCAL_DATABASE = "users"
LOCAL_BUCKET = "users-service-local"


def start_database(stack: ExitStack) -> str:
    """Start the embedded PostgreSQL (data kept in LOCAL_DATA_DIR) and return the app's URL."""
    port = int(os.environ.get("LOCAL_PG_PORT", "54329"))
    server = EmbeddedPostgres(local_data_dir() / "postgres", port=port).start()
    stack.callback(server.stop)
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": LOCAL_DATABASE}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{LOCAL_DATABASE}"'))
    admin.dispose()
    return server.url_for(LOCAL_DATABASE)


def local_data_dir() -> Path:
    """Folder of the local server's data (git-ignored), `.local/` unless LOCAL_DATA_DIR is set."""
    return Path(os.environ.get("LOCAL_DATA_DIR", ROOT / ".local"))


def start_storage(stack: ExitStack) -> EmbeddedS3:
    """Start moto's S3 server on loopback with the local bucket."""
    for name, value in FAKE_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    port = int(os.environ.get("LOCAL_S3_PORT", "9100"))
    server = EmbeddedS3(bucket=LOCAL_BUCKET, port=port).start()
    stack.callback(server.stop)
    return server


def main() -> int:
    """Start what is missing, migrate, serve until Ctrl-C, then stop what was started."""
    import uvicorn

    # uvicorn re-raises SIGTERM after its graceful shutdown; exit through Python so that
    # the services started here are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    with ExitStack() as stack:
        if not os.environ.get("DATABASE_URL"):
            os.environ["DATABASE_URL"] = start_database(stack)
            print(f"PostgreSQL (embedded): {os.environ['DATABASE_URL']}")
        if not os.environ.get("S3_ENDPOINT_URL") and not os.environ.get("S3_BUCKET"):
            storage = start_storage(stack)
            os.environ["S3_ENDPOINT_URL"] = storage.endpoint_url
            os.environ["S3_BUCKET"] = storage.bucket
            print(f"S3 (embedded moto):     {storage.endpoint_url}/{storage.bucket}")

        from lambda_app.main import create_app
        from lambda_app.migrate import handler as migrate

        migration = migrate({"action": "upgrade"})
        print(f"Migrations:             at {migration['after']}")
        print(f"API:                    http://{host}:{port}")
        print(f"Swagger UI:             http://{host}:{port}/docs")
        print("Press Ctrl-C to stop.", flush=True)
        with suppress(KeyboardInterrupt):  # Ctrl-C: stop what was started, quietly
            uvicorn.run(create_app(), host=host, port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())

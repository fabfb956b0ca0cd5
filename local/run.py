"""`make run`: the API on http://HOST:PORT with an embedded PostgreSQL, S3 and Cognito unless
configured."""

from __future__ import annotations

import os
import signal
import sys
from contextlib import ExitStack, suppress
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from local.dev_auth import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    load_or_create_key,
    local_subject,
    public_key_pem,
)
from local.embedded_postgres import EmbeddedPostgres
from local.embedded_s3 import FAKE_CREDENTIALS, EmbeddedS3
from local.user_pool import LocalUserPool, create_user_pool, ensure_identity, moto_token_key_pem

ROOT = Path(__file__).resolve().parent.parent
LOCAL_DATABASE = "users"
LOCAL_BUCKET = "users-service-local"
LOCAL_ADMIN_EMAIL = "admin@example.com"
LOCAL_ADMIN_SUBJECT = local_subject(LOCAL_ADMIN_EMAIL)
# The embedded server listens on loopback only; the app logs in as its own role, as on AWS.
LOCAL_APP_PASSWORD = "users-app-local"  # noqa: S105


def local_pg_port() -> int:
    """Port of the embedded PostgreSQL: LOCAL_PG_PORT, 54329 by default."""
    return int(os.environ.get("LOCAL_PG_PORT", "54329"))


def local_server() -> EmbeddedPostgres:
    """The embedded PostgreSQL server of `make run` (not started)."""
    return EmbeddedPostgres(local_data_dir() / "postgres", port=local_pg_port())


def local_database_url() -> str:
    """URL of the local app database on the embedded server."""
    return local_server().url_for(LOCAL_DATABASE)


def app_role_url(superuser_url: str) -> str:
    """The same database as the app's least-privilege role (made by the migration)."""
    from lambda_app.config import get_settings

    role = get_settings().app_db_role
    password = os.environ.get("APP_DB_PASSWORD", LOCAL_APP_PASSWORD)
    url = make_url(superuser_url).set(username=role, password=password)
    return url.render_as_string(hide_password=False)


def dev_key_path() -> Path:
    """The git-ignored private key that signs local tokens."""
    return local_data_dir() / "dev-jwt-key.pem"


def user_pool_path() -> Path:
    """Where `make run` says which local user pool it serves (read by `make token`)."""
    return local_data_dir() / "cognito.json"


def configure_local_auth(pool: LocalUserPool | None) -> None:
    """Make the app accept the local pool's tokens, or else tokens signed with the local dev
    key; unless auth is configured."""
    if os.environ.get("AUTH_ISSUER"):
        return
    if pool is not None:
        os.environ["AUTH_ISSUER"] = pool.issuer
        os.environ["AUTH_AUDIENCE"] = pool.client_id
        os.environ["AUTH_PUBLIC_KEY_PEM"] = moto_token_key_pem()
        return
    private_pem = load_or_create_key(dev_key_path())
    os.environ["AUTH_ISSUER"] = LOCAL_ISSUER
    os.environ["AUTH_AUDIENCE"] = LOCAL_AUDIENCE
    os.environ["AUTH_PUBLIC_KEY_PEM"] = public_key_pem(private_pem)


def start_user_pool(storage: EmbeddedS3) -> LocalUserPool:
    """Create the local user pool on the moto server that serves S3; the app provisions into it."""
    import boto3

    idp = boto3.client("cognito-idp", endpoint_url=storage.endpoint_url, region_name=storage.region)
    pool = create_user_pool(idp, region=storage.region, endpoint_url=storage.endpoint_url)
    os.environ["COGNITO_USER_POOL_ID"] = pool.pool_id
    os.environ["COGNITO_ENDPOINT_URL"] = storage.endpoint_url
    pool.save(user_pool_path())
    return pool


def provision_into_new_pool() -> dict[str, int]:
    """Give every user an identity in the (new, empty) local pool: reconcile and repair, then
    drain the outbox, as an operator would on AWS."""
    from lambda_app import outbox, reconcile
    from lambda_app.config import get_settings
    from lambda_app.db import create_engine_from_settings
    from lambda_app.deadline import Deadline
    from lambda_app.external_services import cognito

    engine = create_engine_from_settings(get_settings(), pooled=False, autocommit=True)
    try:
        result = reconcile.reconcile(engine, Deadline.unbounded(), repair=True)
        attempt_seconds = cognito.longest_attempt_seconds(get_settings())
        drained = outbox.drain(engine, Deadline.unbounded(), attempt_seconds=attempt_seconds)
    finally:
        engine.dispose()
    repaired = result.get("repaired", {})
    return {
        "enqueued": repaired.get("provisioning_enqueued", 0)
        + repaired.get("relinking_enqueued", 0),
        "done": drained.done,
    }


def start_database(stack: ExitStack) -> str:
    """Start the embedded PostgreSQL (data kept in LOCAL_DATA_DIR) and return the app's URL."""
    server = local_server().start()
    stack.callback(server.stop)
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": LOCAL_DATABASE}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{LOCAL_DATABASE}"'))
    admin.dispose()
    return local_database_url()


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
        embedded_database = not os.environ.get("DATABASE_URL")
        if embedded_database:
            # Migrations run as the superuser; the app then logs in as its own role.
            os.environ["DATABASE_URL"] = start_database(stack)
            os.environ.setdefault("APP_DB_PASSWORD", LOCAL_APP_PASSWORD)
        pool: LocalUserPool | None = None
        if not os.environ.get("S3_ENDPOINT_URL") and not os.environ.get("S3_BUCKET"):
            storage = start_storage(stack)
            os.environ["S3_ENDPOINT_URL"] = storage.endpoint_url
            os.environ["S3_BUCKET"] = storage.bucket
            print(f"S3 (embedded moto):     {storage.endpoint_url}/{storage.bucket}")
            if not os.environ.get("COGNITO_USER_POOL_ID"):
                pool = start_user_pool(storage)
                stack.callback(user_pool_path().unlink, missing_ok=True)
                print(f"Cognito (embedded moto): {storage.endpoint_url}, pool {pool.pool_id}")

        configure_local_auth(pool)
        # One uvicorn process serves many requests at once, unlike a Lambda container.
        os.environ.setdefault("DB_POOL_SIZE", "5")
        os.environ.setdefault("DB_MAX_OVERFLOW", "5")

        from lambda_app.config import get_settings
        from lambda_app.main import create_app
        from lambda_app.migrate import handler as migrate
        from lambda_app.utils.json_logs import configure_logging

        configure_logging(get_settings().log_level)

        migration = migrate({"action": "upgrade"})
        print(f"Migrations:             at {migration['after']}")
        # The first admin's bootstrap, as on AWS: their identity, then their row.
        admin_subject = (
            ensure_identity(pool, LOCAL_ADMIN_EMAIL) if pool is not None else LOCAL_ADMIN_SUBJECT
        )
        admin = migrate(
            {"action": "bootstrap-admin", "email": LOCAL_ADMIN_EMAIL, "subject": admin_subject}
        )
        if admin["created"]:
            print(f"Local admin:            {LOCAL_ADMIN_EMAIL} created")
        if embedded_database:
            os.environ["DATABASE_URL"] = app_role_url(os.environ["DATABASE_URL"])
            get_settings.cache_clear()
            shown = make_url(os.environ["DATABASE_URL"]).render_as_string(hide_password=True)
            print(f"PostgreSQL (embedded): {shown}")
        if pool is not None:
            provisioned = provision_into_new_pool()
            print(f"Identities:             {provisioned['done']} users provisioned into the pool")
        print(f"API:                    http://{host}:{port}")
        print(f"Swagger UI:             http://{host}:{port}/docs")
        print("Tokens:                 make token USER_TYPE=admin|staff|customer [EMAIL=...]")
        print('                        then: curl -H "Authorization: Bearer $TOKEN" ...')
        print("Press Ctrl-C to stop.", flush=True)
        with suppress(KeyboardInterrupt):  # Ctrl-C: stop what was started, quietly
            # The app logs every request as JSON; uvicorn's access log would repeat it.
            uvicorn.run(create_app(), host=host, port=port, log_level="info", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared fixtures: fake AWS, a real PostgreSQL, a migrated database, the app.

The app logs in as a least-privilege role created by the migration, through PgBouncer in
transaction mode (a local RDS Proxy stand-in) whenever `pgbouncer` is installed.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import botocore.loaders
import botocore.session
import pytest

# Fake credentials and a region before anything imports boto3: no test may reach real AWS.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
)
for _variable in (
    "AWS_PROFILE",
    "DATABASE_URL",
    "DB_SECRET_ARN",
    "APP_DB_SECRET_ARN",
    "DB_IAM_AUTH",
    "S3_ENDPOINT_URL",
    "S3_BUCKET",
    "COGNITO_USER_POOL_ID",
    "COGNITO_ENDPOINT_URL",
):
    os.environ.pop(_variable, None)

# The app's least-privilege role, one per run: runs side by side on one server never collide.
# Every migration of the run (the test database's, test_migrate's) creates or maintains it.
APP_DB_ROLE = f"users_app_{uuid.uuid4().hex[:10]}"
APP_DB_PASSWORD = secrets.token_urlsafe(24)
os.environ.update({"APP_DB_ROLE": APP_DB_ROLE, "APP_DB_PASSWORD": APP_DB_PASSWORD})
# Set to 1 (CI does) to fail the run when pgbouncer is missing instead of skipping its leg.
REQUIRE_PGBOUNCER = "REQUIRE_PGBOUNCER"

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from lambda_app.config import Settings, get_settings  # noqa: E402
from lambda_app.db import dispose_engine  # noqa: E402
from lambda_app.external_services.aws import reset_s3_client  # noqa: E402
from lambda_app.external_services.cognito import reset_cognito_client  # noqa: E402
from lambda_app.main import create_app  # noqa: E402
from lambda_app.utils.json_logs import APP_LOGGER, JsonFormatter  # noqa: E402
from local.dev_auth import new_private_key_pem, public_key_pem, sign_token  # noqa: E402
from local.embedded_postgres import EmbeddedPostgres  # noqa: E402

# A developer's .env configures `make run`; the tests never read it.
Settings.env_file = None
# moto gives every test a new boto3 session, and each session would read botocore's service
# models from disk again (about 0.3 s per test): share one loader, whose models are read-only.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
from local.pgbouncer import INSTALL_HINT, WHERE_LOOKED, PgBouncer, pgbouncer_path  # noqa: E402
from tests.pooler.statement_log import StatementRecorder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# The `tls_database` fixture: a database behind TLS with a test CA's certificate.
pytest_plugins = ("tests.tls_database", "tests.user_pool")
TEST_BUCKET = "users-service-test"
TEST_ISSUER = "https://issuer.test/pool"
TEST_AUDIENCE = "users-service-test-client"
ADMIN_SUBJECT = "admin-subject"
ADMIN_EMAIL = "admin@example.com"

# Outside Lambda the app verifies bearer tokens itself: with this key, issuer and audience.
SIGNING_KEY_PEM = new_private_key_pem()
os.environ.update(
    {
        "AUTH_ISSUER": TEST_ISSUER,
        "AUTH_AUDIENCE": TEST_AUDIENCE,
        "AUTH_PUBLIC_KEY_PEM": public_key_pem(SIGNING_KEY_PEM),
    }
)
os.environ.pop("AUTH_JWKS_URL", None)


def token_for(subject: str, email: str | None = None, **claims: Any) -> str:
    """A token the app accepts, for `subject`; `claims` override or add claims."""
    return sign_token(
        SIGNING_KEY_PEM,
        subject=subject,
        email=email,
        issuer=TEST_ISSUER,
        audience=TEST_AUDIENCE,
        **claims,
    )


def bearer(subject: str = ADMIN_SUBJECT, email: str | None = None, **claims: Any) -> dict[str, str]:
    """Authorization header for `subject`."""
    return {"Authorization": f"Bearer {token_for(subject, email, **claims)}"}


# Values that must never appear in a log line, whatever the test did.
SECRET_VALUES = (
    "first-password",
    "second-password",
    "hunter2",
    "certainly-wrong",
    APP_DB_PASSWORD,
)
SECRET_PATTERNS = (
    re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"),
    re.compile(r"(?i)x-amz-signature[=\"':\s]+[0-9a-f]{16}"),
    re.compile(r"(?i)AUTH_PUBLIC_KEY_PEM|BEGIN (RSA )?PRIVATE KEY"),
)


class _LogCapture(logging.Handler):
    """Keep every formatted log line of the run."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def logs_hold_no_secrets() -> Iterator[_LogCapture]:
    """Capture the logs of the whole run; at the end, no line may hold a token or secret."""
    capture = _LogCapture()
    loggers = [logging.getLogger(), logging.getLogger(APP_LOGGER)]
    for logger in loggers:
        logger.addHandler(capture)
    logging.getLogger(APP_LOGGER).setLevel(logging.INFO)  # request lines are INFO
    yield capture
    for logger in loggers:
        logger.removeHandler(capture)
    leaks = [
        line
        for line in capture.lines
        if any(value in line for value in SECRET_VALUES)
        or any(pattern.search(line) for pattern in SECRET_PATTERNS)
    ]
    assert not leaks, f"{len(leaks)} log lines hold secrets, e.g. {leaks[0][:300]}"


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers; refuse to run without pgbouncer when REQUIRE_PGBOUNCER=1."""
    config.addinivalue_line(
        "markers", "direct_database: the app connects straight to PostgreSQL, not via PgBouncer"
    )
    if os.environ.get(REQUIRE_PGBOUNCER) == "1" and pgbouncer_path() is None:
        raise pytest.UsageError(
            f"REQUIRE_PGBOUNCER=1 but pgbouncer was not found ({WHERE_LOOKED}): {INSTALL_HINT}"
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say, in one line, when the PgBouncer leg did not run."""
    if pgbouncer_path() is None:
        terminalreporter.write_line(
            f"PgBouncer leg skipped: pgbouncer was not found ({WHERE_LOOKED}), so the app"
            f" connected to PostgreSQL directly; install it with `{INSTALL_HINT}` to test"
            " through a transaction pooler."
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs PostgreSQL, so CI can rerun them on another server."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)


@pytest.fixture(scope="session", autouse=True)
def pinning_guard() -> Iterator[StatementRecorder]:
    """Record what the API's connections send all run long; at the end, nothing may pin."""
    recorder = StatementRecorder()
    recorder.install()
    yield recorder
    recorder.uninstall()
    pinned = recorder.pinning()
    assert not pinned, (
        f"{len(pinned)} statements pin a pooled connection (RDS Proxy) or leak session state "
        "(PgBouncer):\n" + "\n".join(recorder.describe(statement) for statement in pinned[:20])
    )


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a PostgreSQL server: TEST_DATABASE_URL, or an embedded one for this run."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield make_url(given).set(drivername="postgresql+pg8000").render_as_string(False)
        return
    # A data folder per test run: runs side by side never stop each other's server.
    data_dir = ROOT / ".local" / "test-postgres" / str(os.getpid())
    server = EmbeddedPostgres(data_dir).start()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture(scope="session")
def pgbouncer(postgres_server_url: str) -> Iterator[PgBouncer | None]:
    """PgBouncer in transaction mode before the server, fewer server connections than clients.

    None when pgbouncer is not installed: the app then connects to PostgreSQL directly.
    """
    if pgbouncer_path() is None:
        yield None
        return
    superuser = make_url(postgres_server_url)
    users = {str(superuser.username): superuser.password, APP_DB_ROLE: APP_DB_PASSWORD}
    with PgBouncer(postgres_server_url, users=users, pool_size=3) as bouncer:
        yield bouncer


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for this test run, migrated to head, dropped at the end.

    The URL logs in as the server's superuser: for migrations, setup and assertions.
    The migration also creates the app's role (APP_DB_ROLE); it is dropped at the end too.
    """
    name = f"users_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    with settings_env(DATABASE_URL=url):
        from lambda_app.migrate import handler as migrate

        migrate({"action": "upgrade"})
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{APP_DB_ROLE}"'))
        admin.dispose()


def as_app_role(url: str) -> str:
    """`url` logging in as the app's least-privilege role instead."""
    app_url = make_url(url).set(username=APP_DB_ROLE, password=APP_DB_PASSWORD)
    return app_url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def app_database_url(database_url: str, pgbouncer: PgBouncer | None) -> str:
    """The URL the app uses: its own role, through PgBouncer when installed."""
    url = as_app_role(database_url)
    return pgbouncer.url_for(url) if pgbouncer is not None else url


@contextmanager
def settings_env(**variables: str | None) -> Iterator[None]:
    """Set environment variables for the app and rebuild its cached settings and clients."""
    saved = {name: os.environ.get(name) for name in variables}
    for name, value in variables.items():
        _set_env(name, value)
    _reset_app_state()
    try:
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)
        _reset_app_state()


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _reset_app_state() -> None:
    get_settings.cache_clear()
    dispose_engine()
    reset_s3_client()
    reset_cognito_client()


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    """The tests' own pooled engine on the test database, for setting up and checking data."""
    engine = create_engine(database_url, pool_pre_ping=True)
    yield engine
    engine.dispose()


def close_app_role_sessions(engine: Engine, timeout: float = 10.0) -> None:
    """End every server session of the app's role on the test database, and wait until gone.

    PgBouncer keeps its server connections after its clients leave (it opens new ones when
    needed): a test that watches the app's own server processes must not see those.
    """
    sessions = text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE usename = :role AND datname = current_database()"
    )
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while connection.execute(sessions, {"role": APP_DB_ROLE}).all():
            connection.rollback()
            if time.monotonic() > deadline:
                raise TimeoutError(f"sessions of {APP_DB_ROLE} did not end")
            time.sleep(0.05)


@pytest.fixture
def app_env(
    request: pytest.FixtureRequest, database_url: str, app_database_url: str, db_engine: Engine
) -> Iterator[dict[str, str]]:
    """Point the app, as its own role, at the test database and bucket; empty the tables after."""
    direct = request.node.get_closest_marker("direct_database") is not None
    if direct:
        close_app_role_sessions(db_engine)
    url = as_app_role(database_url) if direct else app_database_url
    variables = {"DATABASE_URL": url, "S3_BUCKET": TEST_BUCKET}
    with settings_env(**variables):
        yield variables
    with db_engine.begin() as connection:
        connection.execute(text("TRUNCATE users, idempotency_keys, outbox_tasks"))


@pytest.fixture
def s3(app_env: dict[str, str]) -> Iterator[Any]:
    """moto's in-process S3 with the test bucket; yields a client for assertions."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=TEST_BUCKET)
        reset_s3_client()
        yield client
    reset_s3_client()


def insert_user(engine: Engine, *, email: str, user_type: str, subject: str | None) -> str:
    """Insert a user straight into the database (no API, no permission check); return its id."""
    with engine.begin() as connection:
        user_id = connection.scalar(
            text(
                "INSERT INTO users (email, user_type, subject) "
                "VALUES (:email, :user_type, :subject) RETURNING id"
            ),
            {"email": email, "user_type": user_type, "subject": subject},
        )
    return str(user_id)


@pytest.fixture
def admin(app_env: dict[str, str], db_engine: Engine) -> dict[str, Any]:
    """An admin in the database, linked to ADMIN_SUBJECT; yields its id, email and headers."""
    user_id = insert_user(db_engine, email=ADMIN_EMAIL, user_type="admin", subject=ADMIN_SUBJECT)
    return {"id": user_id, "email": ADMIN_EMAIL, "headers": bearer(ADMIN_SUBJECT)}


@pytest.fixture
def client(app_env: dict[str, str], s3: Any, admin: dict[str, Any]) -> Iterator[TestClient]:
    """A test client of the real app on the test database, with moto S3, signed in as admin."""
    app = create_app()
    with TestClient(app, raise_server_exceptions=False, headers=admin["headers"]) as test_client:
        yield test_client


@pytest.fixture
def make_user(client: TestClient) -> Any:
    """Create users through the API and return their JSON."""

    def make(email: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"email": email or f"user-{uuid.uuid4().hex[:8]}@example.com", **fields}
        response = client.post("/users", json=body)
        assert response.status_code == 201, response.text
        created = dict(response.json())
        created.pop("identity")  # where their sign-in identity stands: only POST's answer says
        return created

    return make

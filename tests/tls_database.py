"""A database reached the way the functions reach RDS: over TLS, with a test CA's certificate.

The embedded PostgreSQL has no TLS, so `local.tls_proxy` terminates it in front of a server
of its own (as RDS Proxy terminates it in front of RDS); the app's role logs in there without
a password, which stands in for the proxy's check of its IAM token. Loaded as a plugin by
`tests/conftest.py`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from local import tls_proxy
from local.certificate_authority import CertificateAuthority
from local.embedded_postgres import EmbeddedPostgres
from tests.conftest import ADMIN_EMAIL, ADMIN_SUBJECT, APP_DB_ROLE, ROOT, settings_env

DATABASE = "users_tls"


@dataclass(frozen=True)
class TlsDatabase:
    """Where the TLS relay listens, what it serves, and who signed its certificate."""

    host: str
    port: int
    database: str
    superuser_url: str  # straight to the server, without TLS: setup and assertions
    authority: CertificateAuthority
    trust_store: Path  # Amazon's roots and the test CA, for SSL_CERT_FILE
    admin_id: str
    user_id: str


@pytest.fixture(scope="session")
def tls_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsDatabase]:
    """A migrated database with an admin and a user, behind a TLS relay of a test CA."""
    files = tmp_path_factory.mktemp("tls")
    server = EmbeddedPostgres(ROOT / ".local" / "test-postgres-tls" / str(os.getpid())).start()
    try:
        url = make_url(server.url)
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        admin.dispose()
        database_url = url.set(database=DATABASE).render_as_string(hide_password=False)
        admin_id, user_id = _migrate_and_seed(database_url)
        tls_proxy.trust_from_loopback(server, APP_DB_ROLE)
        authority = CertificateAuthority.create(f"users-service test CA {uuid.uuid4().hex[:8]}")
        certificate, key = authority.write_server_files(files / "server")
        with tls_proxy.running(tls_proxy.LOOPBACK, server.port, certificate, key) as relay:
            yield TlsDatabase(
                host=relay.host,
                port=relay.port,
                database=DATABASE,
                superuser_url=database_url,
                authority=authority,
                trust_store=authority.write_trust_store(files / "trust-store.pem"),
                admin_id=admin_id,
                user_id=user_id,
            )
    finally:
        server.remove()


def _migrate_and_seed(database_url: str) -> tuple[str, str]:
    """Migrate (which creates the app's role), then add the admin and one customer."""
    from lambda_app.migrate import handler as migrate

    with settings_env(DATABASE_URL=database_url):
        migrate({"action": "upgrade"})
    engine = create_engine(database_url)
    with engine.begin() as connection:
        ids = [
            str(
                connection.scalar(
                    text(
                        "INSERT INTO users (email, user_type, subject) "
                        "VALUES (:email, :user_type, :subject) RETURNING id"
                    ),
                    values,
                )
            )
            for values in (
                {"email": ADMIN_EMAIL, "user_type": "admin", "subject": ADMIN_SUBJECT},
                {"email": "customer@example.com", "user_type": "customer", "subject": None},
            )
        ]
    engine.dispose()
    return ids[0], ids[1]

"""The least-privilege role the API logs in as: created and kept in shape by the migration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, select, text

from lambda_app.models.tables import metadata

if TYPE_CHECKING:
    from lambda_app.config import Settings

# What the API's statements need on each of its tables, and nothing else (no DDL, no TRUNCATE).
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SCRAM_ITERATIONS = 4096
_PRESENT_TABLES = text(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(:names)"
)


def ensure_app_role(connection: Connection, settings: Settings) -> None:
    """Create the app role if missing, set its password and timeout, and grant it DML only.

    The role owns nothing, so it cannot alter or drop what the migrations made. Its
    statement timeout is a setting of the role, applied by the server to each new session:
    RDS Proxy refuses it as a startup parameter. It only ever grants: what a newer release
    granted on tables this one does not know stays.
    """
    preparer = connection.dialect.identifier_preparer
    role = preparer.quote_identifier(settings.app_db_role)
    exists = connection.scalar(
        text("SELECT count(*) FROM pg_roles WHERE rolname = :role"), {"role": settings.app_db_role}
    )
    if not exists:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
    password = app_role_password(settings)
    if password is not None:
        # A SCRAM verifier, not the password, so that no server log can ever show it.
        connection.exec_driver_sql(f"ALTER ROLE {role} PASSWORD '{scram_verifier(password)}'")
    timeout_ms = settings.db_statement_timeout_ms
    if timeout_ms:
        connection.exec_driver_sql(f"ALTER ROLE {role} SET statement_timeout = '{timeout_ms}ms'")
    else:
        connection.exec_driver_sql(f"ALTER ROLE {role} RESET statement_timeout")
    database = preparer.quote_identifier(str(connection.scalar(select(func.current_database()))))
    # The app's tables that this revision has (an upgrade may stop before the newest).
    present = sorted(connection.scalars(_PRESENT_TABLES, {"names": list(metadata.tables)}))
    connection.exec_driver_sql(f"GRANT CONNECT ON DATABASE {database} TO {role}")
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {role}")
    if present:
        tables = ", ".join(preparer.quote_identifier(name) for name in present)
        connection.exec_driver_sql(f"GRANT {APP_TABLE_PRIVILEGES} ON TABLE {tables} TO {role}")


def app_role_password(settings: Settings) -> str | None:
    """The app role's password: from its secret on AWS, else `APP_DB_PASSWORD`, else none."""
    if settings.app_db_secret_arn:
        from lambda_app.external_services.secrets import CachedSecretCredentials

        secret = CachedSecretCredentials(
            settings.app_db_secret_arn, region=settings.aws_region, max_age=0
        )
        return secret.get().password
    if settings.app_db_password is not None:
        return settings.app_db_password.get_secret_value()
    return None


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """PostgreSQL's stored form of `password` for SCRAM-SHA-256 (RFC 5802, RFC 7677).

    Only ASCII passwords are accepted: the server would first apply SASLprep to others,
    which this does not.
    """
    if not password.isascii():
        raise ValueError("The app role's password must be ASCII.")
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"

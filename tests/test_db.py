"""Connecting on AWS: credentials from a Secrets Manager secret, TLS, rotation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from lambda_app.main import create_app
from tests.conftest import bearer, settings_env
from tests.routers.test_users import assert_problem

APP_ROLE = "users_secret_test"
TERMINATE_APP_SESSIONS = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"
)


@pytest.fixture
def app_role(database_url: str) -> Iterator[URL]:
    """A login role with a password on the test database; yields its URL."""
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP ROLE IF EXISTS {APP_ROLE}"))
        connection.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD 'first-password'"))
        connection.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"))
    url = make_url(database_url).set(username=APP_ROLE, password="first-password")
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(TERMINATE_APP_SESSIONS, {"role": APP_ROLE})
            connection.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}"))
            connection.execute(text(f"DROP ROLE {APP_ROLE}"))
        admin.dispose()


@pytest.fixture
def secret(admin: dict[str, Any], s3: Any, app_role: URL) -> Iterator[dict[str, Any]]:
    """An RDS-style secret in moto's Secrets Manager for the app role; yields its handle."""
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1")
    payload = {
        "engine": "postgres",
        "host": app_role.host,
        "port": app_role.port,
        "username": APP_ROLE,
        "password": "first-password",
        "dbname": app_role.database,
    }
    arn = client.create_secret(Name="users-db", SecretString=json.dumps(payload))["ARN"]
    with settings_env(DATABASE_URL=None, DB_SECRET_ARN=arn, DB_SSL="false"):
        yield {"client": client, "arn": arn, "payload": payload}


def _server_checks_passwords(url: URL) -> bool:
    engine = create_engine(url.set(password="certainly-wrong"))
    try:
        with engine.connect():
            return False
    except Exception:
        return True
    finally:
        engine.dispose()


def test_app_connects_with_credentials_from_the_secret(secret: dict[str, Any]) -> None:
    client = TestClient(create_app(), headers=bearer())

    created = client.post("/users", json={"email": "via-secret@example.com"})

    assert created.status_code == 201
    assert client.get("/health").json() == {"status": "ok"}


def test_db_host_overrides_the_secret_host(secret: dict[str, Any], app_role: URL) -> None:
    payload = {**secret["payload"], "host": "127.0.0.2", "port": 1}
    secret["client"].put_secret_value(SecretId=secret["arn"], SecretString=json.dumps(payload))
    port = str(app_role.port)

    with settings_env(DB_HOST=str(app_role.host)):
        unreachable = TestClient(create_app(), headers=bearer()).get("/health")
    payload["port"] = int(port)
    secret["client"].put_secret_value(SecretId=secret["arn"], SecretString=json.dumps(payload))
    with settings_env(DB_HOST=str(app_role.host)):
        reachable = TestClient(create_app(), headers=bearer()).get("/health")

    assert unreachable.status_code == 503
    assert reachable.json() == {"status": "ok"}


def test_tls_is_required_by_default_with_a_secret(secret: dict[str, Any]) -> None:
    with settings_env(DB_SSL=None):
        response = TestClient(create_app(), headers=bearer()).get("/users")

    # The test server speaks no TLS, so a client that insists on it must not connect.
    assert_problem(response, 503)


def test_rotated_password_works_without_a_restart(
    secret: dict[str, Any], app_role: URL, database_url: str
) -> None:
    if not _server_checks_passwords(app_role):
        pytest.skip("this PostgreSQL server trusts every password, so rotation proves nothing")
    client = TestClient(create_app(), headers=bearer())
    assert client.get("/users").status_code == 200

    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"ALTER ROLE {APP_ROLE} PASSWORD 'second-password'"))
        connection.execute(TERMINATE_APP_SESSIONS, {"role": APP_ROLE})
    admin.dispose()
    rotated = {**secret["payload"], "password": "second-password"}
    secret["client"].put_secret_value(SecretId=secret["arn"], SecretString=json.dumps(rotated))

    assert client.get("/users").status_code == 200
    assert client.post("/users", json={"email": "after-rotation@example.com"}).status_code == 201


def test_unreadable_secret_is_503_without_details(admin: dict[str, Any], s3: Any) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with settings_env(DATABASE_URL=None, DB_SECRET_ARN=missing):
        client = TestClient(create_app(), headers=bearer())
        health = client.get("/health")
        users = client.get("/users")

    assert health.status_code == 503
    body = assert_problem(users, 503)
    assert "missing-AbCdEf" not in json.dumps(body)

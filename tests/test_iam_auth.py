"""Logging in to the RDS Proxy with an IAM auth token: signed here, no secret, no network."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lambda_app.config import Settings
from lambda_app.db import create_engine_from_settings
from lambda_app.exceptions import DatabaseUnavailableError
from lambda_app.external_services.iam_auth import IamTokenLogin

PROXY = "users-dev.proxy-abc123.us-east-1.rds.amazonaws.com"


def iam_settings(**overrides: Any) -> Settings:
    values = {"db_iam_auth": True, "db_host": PROXY, "db_user": "users_app", "db_name": "users"}
    return Settings(**{**values, **overrides})


def test_the_password_is_a_token_for_the_app_role_signed_without_any_network_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("signing a token must not open a connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)

    credentials = IamTokenLogin(iam_settings()).get()

    token = urlsplit(f"https://{credentials.password}")
    query = parse_qs(token.query)
    assert (credentials.host, credentials.port, credentials.username) == (PROXY, 5432, "users_app")
    assert credentials.dbname == "users"
    assert f"{token.hostname}:{token.port}" == f"{PROXY}:5432"
    assert query["Action"] == ["connect"]
    assert query["DBUser"] == ["users_app"]
    assert "/us-east-1/rds-db/aws4_request" in query["X-Amz-Credential"][0]
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Signature"][0]
    assert credentials.password not in repr(credentials)


def test_iam_auth_without_host_or_user_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailableError, match="DB_HOST and DB_USER"):
        create_engine_from_settings(iam_settings(db_user=None))


def test_no_database_settings_at_all_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailableError, match="No database is configured"):
        create_engine_from_settings(Settings())

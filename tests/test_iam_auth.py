"""Logging in to the RDS Proxy with an IAM auth token: signed here, no secret, no network."""

from __future__ import annotations

import datetime
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lambda_app.config import Settings
from lambda_app.db import create_engine_from_settings
from lambda_app.exceptions import DatabaseUnavailableError
from lambda_app.external_services.iam_auth import IamTokenLogin, role_credentials, sign_auth_token
from tests.conftest import ROOT
from tests.credentials_endpoint import (
    CREDENTIAL_VARIABLES,
    CredentialsEndpoint,
    credentials_endpoint,
)

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


def token_query(token: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(f"https://{token}").query)


def test_the_token_is_the_one_botocores_rds_client_signs(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session/token+with=escapes")
    for port, user in ((5432, "users_app"), (443, "a user+/=")):
        rds = boto3.session.Session().client("rds", region_name="eu-west-1")  # no cached keys
        expected = rds.generate_db_auth_token(
            DBHostname=PROXY, Port=port, DBUsername=user, Region="eu-west-1"
        )
        signed_at = datetime.datetime.strptime(
            token_query(expected)["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ"
        ).replace(tzinfo=datetime.UTC)

        token = sign_auth_token(
            host=PROXY,
            port=port,
            user=user,
            region="eu-west-1",
            credentials=role_credentials.current(),
            now=signed_at,
        )

        assert token == expected


def test_signing_with_lambdas_credential_variables_imports_no_sdk() -> None:
    probe = (
        "import sys\n"
        "from lambda_app.config import Settings\n"
        "from lambda_app.external_services.iam_auth import IamTokenLogin\n"
        "settings = Settings(db_iam_auth=True, db_host='proxy.example', db_user='users_app')\n"
        "assert IamTokenLogin(settings).get().password\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in "
        "('boto3', 'botocore', 'urllib3')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


@pytest.fixture
def no_credential_variables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No keys in the environment and no profile to fall back on, as in a SnapStart function."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    role_credentials.forget()
    yield
    role_credentials.forget()


@pytest.fixture
def container_credentials(
    no_credential_variables: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CredentialsEndpoint]:
    """The role's credentials from a container endpoint only, as a SnapStart function has them."""
    with credentials_endpoint() as endpoint:
        for name, value in endpoint.environment().items():
            monkeypatch.setenv(name, value)
        yield endpoint


def test_without_credential_variables_the_role_comes_from_the_container_endpoint(
    container_credentials: CredentialsEndpoint,
) -> None:
    login = IamTokenLogin(iam_settings())

    first = token_query(login.get().password)
    again = token_query(login.get().password)
    role_credentials.forget()
    renewed = token_query(login.get().password)

    assert first["X-Amz-Credential"][0].startswith("ROLE-KEY-1/")
    assert first["X-Amz-Security-Token"] == ["token-of-ROLE-KEY-1"]
    assert again["X-Amz-Credential"] == first["X-Amz-Credential"]  # resolved once, reused
    assert renewed["X-Amz-Credential"][0].startswith("ROLE-KEY-2/")
    assert container_credentials.served == ["ROLE-KEY-1", "ROLE-KEY-2"]


def test_a_refused_login_signs_again_with_credentials_fetched_anew(
    container_credentials: CredentialsEndpoint,
) -> None:
    login = IamTokenLogin(iam_settings())

    login.get()
    after_refusal = token_query(login.get(refresh=True).password)

    assert after_refusal["X-Amz-Credential"][0].startswith("ROLE-KEY-2/")


def test_no_credentials_anywhere_is_a_clear_error(no_credential_variables: None) -> None:
    with pytest.raises(DatabaseUnavailableError, match="No AWS credentials"):
        IamTokenLogin(iam_settings()).get()

"""Database logins with RDS IAM auth tokens: signed here, so no secret is ever read.

A token is a SigV4 presigned `connect` request for the `rds-db` service, valid 15 minutes
and only needed while a connection opens. It is signed with the standard library, after
AWS's Signature Version 4 specification: an SDK client (`boto3.client("rds")`) would cost
the cold start some 200 ms and 400 modules for a few HMACs. The credentials are Lambda's
environment variables when it sets them, else botocore's credential chain (SnapStart
functions get theirs from the container credentials endpoint).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lambda_app.exceptions import DatabaseUnavailableError
from lambda_app.external_services.secrets import DatabaseCredentials

if TYPE_CHECKING:
    from lambda_app.config import Settings

SERVICE = "rds-db"
TOKEN_LIFETIME_SECONDS = 900
ALGORITHM = "AWS4-HMAC-SHA256"
# The SHA-256 of the empty body a token's GET request has.
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
HTTPS_PORT = 443
NO_CREDENTIALS = "No AWS credentials to sign a database login."


@dataclass(frozen=True)
class AwsCredentials:
    """An access key pair and, for a role's temporary credentials, its session token."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


def sign_auth_token(
    *,
    host: str,
    port: int,
    user: str,
    region: str,
    credentials: AwsCredentials,
    now: datetime.datetime,
) -> str:
    """An RDS IAM auth token for `user` at `host:port`, signed at `now` (UTC).

    The same string as botocore's `generate_db_auth_token`: `host:port/?Action=connect&...`
    with the SigV4 query parameters and the signature last.
    """
    timestamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = timestamp[:8]
    scope = f"{day}/{region}/{SERVICE}/aws4_request"
    # The host header of an https URL to `host:port`, which leaves out the default port.
    host_header = host if port == HTTPS_PORT else f"{host}:{port}"
    operation = {"Action": "connect", "DBUser": user}
    authentication = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{credentials.access_key}/{scope}",
        "X-Amz-Date": timestamp,
        "X-Amz-Expires": str(TOKEN_LIFETIME_SECONDS),
        "X-Amz-SignedHeaders": "host",
    }
    if credentials.token is not None:
        authentication["X-Amz-Security-Token"] = credentials.token
    canonical_request = "\n".join(
        (
            "GET",
            "/",
            _query({**operation, **authentication}, sort=True),
            f"host:{host_header}\n",
            "host",
            EMPTY_BODY_SHA256,
        )
    )
    string_to_sign = "\n".join(
        (ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    )
    key = _hmac(f"AWS4{credentials.secret_key}".encode(), day)
    for part in (region, SERVICE, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    query = f"{_query(operation)}&{_query(authentication)}&X-Amz-Signature={signature}"
    return f"{host}:{port}/?{query}"


def _query(parameters: dict[str, str], *, sort: bool = False) -> str:
    """`name=value&...`, percent-encoded as SigV4 asks (only `-_.~` and alphanumerics kept)."""
    pairs = sorted(parameters.items()) if sort else parameters.items()
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in pairs)


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


class ExecutionRoleCredentials:
    """The function's AWS credentials: Lambda's environment variables, else botocore's chain.

    The variables come first, as in botocore's own chain, and are read at every signature,
    which costs no import. Where they are absent (a SnapStart function, a developer's
    profile) botocore resolves the credentials once and refreshes them before they expire;
    `forget` drops them, so that a snapshot carries none.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resolved: Any = None

    def current(self) -> AwsCredentials:
        """The credentials to sign with now."""
        from_environment = _environment_credentials()
        if from_environment is not None:
            return from_environment
        return self._from_botocore()

    def prepare(self) -> None:
        """Resolve them now (SnapStart's init), so that signing later imports nothing."""
        self.current()

    def forget(self) -> None:
        """Drop what botocore resolved; the next signature resolves them again."""
        with self._lock:
            self._resolved = None

    def _from_botocore(self) -> AwsCredentials:
        from botocore.exceptions import BotoCoreError
        from botocore.session import Session

        try:
            with self._lock:
                if self._resolved is None:
                    self._resolved = Session().get_credentials()
                resolved = self._resolved
                frozen = resolved.get_frozen_credentials() if resolved is not None else None
        except BotoCoreError as error:
            raise DatabaseUnavailableError(NO_CREDENTIALS) from error
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise DatabaseUnavailableError(NO_CREDENTIALS)
        return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token or None)


# One per process: the function has one role. SnapStart's hooks prepare and forget it.
role_credentials = ExecutionRoleCredentials()


def _environment_credentials() -> AwsCredentials | None:
    access_key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not (access_key and secret_key):
        return None
    # botocore's order: the legacy name first (Lambda sets AWS_SESSION_TOKEN only).
    token = os.environ.get("AWS_SECURITY_TOKEN") or os.environ.get("AWS_SESSION_TOKEN")
    return AwsCredentials(access_key, secret_key, token or None)


class IamTokenLogin:
    """Credentials for `DB_USER` at `DB_HOST`, with a new auth token for each connection.

    Making a token is a local computation (no network call, unless botocore has to fetch
    the role's credentials first).
    """

    def __init__(self, settings: Settings) -> None:
        if not (settings.db_host and settings.db_user):
            raise DatabaseUnavailableError("DB_IAM_AUTH needs DB_HOST and DB_USER.")
        self._host = settings.db_host
        self._port = settings.db_port
        self._user = settings.db_user
        self._dbname = settings.db_name
        self._region = settings.aws_region

    def get(self, *, refresh: bool = False) -> DatabaseCredentials:
        """Return credentials whose password is a fresh auth token.

        `refresh`, after a refused login, also resolves the role's credentials again.
        """
        if refresh:
            role_credentials.forget()
        token = sign_auth_token(
            host=self._host,
            port=self._port,
            user=self._user,
            region=self._region,
            credentials=role_credentials.current(),
            now=datetime.datetime.now(datetime.UTC),
        )
        return DatabaseCredentials(
            host=self._host,
            port=self._port,
            username=self._user,
            password=token,
            dbname=self._dbname,
        )

"""Database credentials from an RDS-style Secrets Manager secret, cached with a max age."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambda_app.exceptions import DatabaseUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True)
class DatabaseCredentials:
    """Where and as whom to connect; `password` never leaves this process."""

    host: str
    port: int
    username: str
    password: str
    dbname: str | None

    def __repr__(self) -> str:
        return f"DatabaseCredentials(host={self.host!r}, port={self.port}, user={self.username!r})"


def parse_rds_secret(secret_string: str) -> DatabaseCredentials:
    """Read the JSON that RDS writes into a generated credentials secret."""
    payload: dict[str, Any] = json.loads(secret_string)
    return DatabaseCredentials(
        host=str(payload["host"]),
        port=int(payload.get("port", 5432)),
        username=str(payload["username"]),
        password=str(payload["password"]),
        dbname=payload.get("dbname"),
    )


def create_secrets_client(region: str) -> SecretsManagerClient:
    """Build a Secrets Manager client with short timeouts and bounded retries."""
    import boto3  # deferred: only deployments that read a secret pay for the import
    from botocore.config import Config

    config = Config(
        region_name=region,
        connect_timeout=3,
        read_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.client("secretsmanager", config=config)


class CachedSecretCredentials:
    """Fetch a secret's credentials, reuse them for `max_age` seconds, refetch on demand."""

    def __init__(self, secret_arn: str, *, region: str, max_age: float) -> None:
        self._secret_arn = secret_arn
        self._region = region
        self._max_age = max_age
        self._lock = threading.Lock()
        self._client: SecretsManagerClient | None = None
        self._cached: DatabaseCredentials | None = None
        self._fetched_at = 0.0

    def get(self, *, refresh: bool = False) -> DatabaseCredentials:
        """Return the credentials, from the cache unless stale or `refresh` is asked."""
        with self._lock:
            expired = time.monotonic() - self._fetched_at >= self._max_age
            if refresh or expired or self._cached is None:
                self._cached = self._fetch()
                self._fetched_at = time.monotonic()
            return self._cached

    def _fetch(self) -> DatabaseCredentials:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if self._client is None:
                self._client = create_secrets_client(self._region)
            response = self._client.get_secret_value(SecretId=self._secret_arn)
            return parse_rds_secret(response["SecretString"])
        except (BotoCoreError, ClientError, KeyError, ValueError) as error:
            raise DatabaseUnavailableError(
                "The database credentials could not be read from Secrets Manager."
            ) from error

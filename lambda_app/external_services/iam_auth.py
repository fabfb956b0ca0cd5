"""Database logins with RDS IAM auth tokens: signed locally, so no secret is ever read."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from lambda_app.exceptions import DatabaseUnavailableError
from lambda_app.external_services.secrets import DatabaseCredentials

if TYPE_CHECKING:
    from lambda_app.config import Settings


class IamTokenLogin:
    """Credentials for `DB_USER` at `DB_HOST`, with a new auth token for each connection.

    A token is a SigV4-presigned request signed with the function's own credentials; making
    one is a local computation (no network call), valid for 15 minutes, and only needed
    while a connection is opened.
    """

    def __init__(self, settings: Settings) -> None:
        if not (settings.db_host and settings.db_user):
            raise DatabaseUnavailableError("DB_IAM_AUTH needs DB_HOST and DB_USER.")
        self._host = settings.db_host
        self._port = settings.db_port
        self._user = settings.db_user
        self._dbname = settings.db_name
        self._region = settings.aws_region
        self._lock = threading.Lock()
        self._client: Any = None

    def get(self, *, refresh: bool = False) -> DatabaseCredentials:  # noqa: ARG002 - always fresh
        """Return credentials whose password is a fresh auth token."""
        from botocore.exceptions import BotoCoreError

        try:
            token = self._rds_client().generate_db_auth_token(
                DBHostname=self._host, Port=self._port, DBUsername=self._user, Region=self._region
            )
        except BotoCoreError as error:
            reason = "No AWS credentials to sign a database login."
            raise DatabaseUnavailableError(reason) from error
        return DatabaseCredentials(
            host=self._host,
            port=self._port,
            username=self._user,
            password=token,
            dbname=self._dbname,
        )

    def _rds_client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3  # deferred: only deployments with IAM auth pay for the import

                self._client = boto3.client("rds", region_name=self._region)
            return self._client

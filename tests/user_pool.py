"""The `pool` fixture: moto's Cognito with a pool shaped like the stack's, provisioning on.

Faults are injected where Cognito meets botocore (an event handler on the app's client),
never inside the service's own code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from lambda_app.external_services import cognito
from local.user_pool import LocalUserPool, create_user_pool
from tests.conftest import settings_env

# A password the pool's policy accepts, for the people the tests sign in as.
PASSWORD = "Correct-horse-42!"


@dataclass
class UserPool:
    """The pool the app provisions into, and a client outside the app to look at it."""

    local: LocalUserPool
    idp: Any
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.local.pool_id

    def identities(self) -> list[dict[str, Any]]:
        """Every user of the pool, with its attributes as a dict."""
        users = self.idp.list_users(UserPoolId=self.id)["Users"]
        return [{**user, "Attributes": _flat(user["Attributes"])} for user in users]

    def identity(self, username: str) -> dict[str, Any] | None:
        """The pool's user by email or sub, with its attributes as a dict; None if absent."""
        try:
            user = self.idp.admin_get_user(UserPoolId=self.id, Username=username)
        except self.idp.exceptions.UserNotFoundException:
            return None
        return {**user, "Attributes": _flat(user["UserAttributes"])}

    def add_identity(self, email: str) -> str:
        """Create an identity outside the service (a console, an earlier attempt); its sub."""
        created = self.idp.admin_create_user(
            UserPoolId=self.id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}],
            MessageAction="SUPPRESS",
        )
        return str(_flat(created["User"]["Attributes"])["sub"])

    def record_calls(self) -> None:
        """Keep each operation the app's Cognito client sends, with its parameters."""

        def remember(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.calls.append((model.name, dict(params)))

        cognito.get_cognito_client().meta.events.register(
            "provide-client-params.cognito-idp", remember
        )

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


def _flat(attributes: list[dict[str, str]]) -> dict[str, str]:
    return {item["Name"]: item["Value"] for item in attributes}


def on_cognito_attempt(hook: Callable[..., None]) -> None:
    """Call `hook` before each attempt the app's Cognito client sends, ahead of moto's answer."""
    client = cognito.get_cognito_client()
    client.meta.events.register_first("before-send.cognito-identity-provider", hook)


@pytest.fixture
def pool(s3: Any, app_env: dict[str, str]) -> Iterator[UserPool]:
    """moto's Cognito (in the same mock as S3) with the local pool; the app provisions into it."""
    import boto3

    idp = boto3.client("cognito-idp", region_name="us-east-1")
    local = create_user_pool(idp)
    with settings_env(COGNITO_USER_POOL_ID=local.pool_id):
        yield UserPool(local=local, idp=idp)

"""Cognito: the identities of the user pool the service provisions (COGNITO_USER_POOL_ID).

An identity is named by its `sub`, which is the `subject` of the user's row: Cognito's admin
actions take a local user's `sub` as their `Username` (infra/DEPLOY.md cites it). Every call
takes the caller's deadline, as S3's do, and every failure is `IdentityProviderUnavailableError`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from lambda_app.config import Settings, get_settings
from lambda_app.deadline import Deadline
from lambda_app.exceptions import IdentityProviderUnavailableError
from lambda_app.external_services.attempt_deadline import AttemptDeadline, DeadlineReachedError

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_cognito_idp.type_defs import AttributeTypeTypeDef

_client: CognitoIdentityProviderClient | None = None
_client_lock = threading.Lock()
_attempts = AttemptDeadline("cognito-idp")
# Cognito's error codes that answer a question rather than report a failure.
USERNAME_EXISTS = "UsernameExistsException"
USER_NOT_FOUND = "UserNotFoundException"
# ListUsers returns at most 60 users per page.
LIST_USERS_PAGE = 60


class Identity(NamedTuple):
    """A user of the pool: its `sub`, its email, whether it may sign in, when it was made."""

    subject: str
    email: str | None
    enabled: bool
    created_at: datetime | None = None


class ProvisionedIdentity(NamedTuple):
    """The identity an email has now, and whether this call created it."""

    subject: str
    created: bool


def provisioning_enabled(settings: Settings | None = None) -> bool:
    """Tell whether the service manages the identities of a user pool."""
    return bool((settings or get_settings()).cognito_user_pool_id)


def _pool_id() -> str:
    pool_id = get_settings().cognito_user_pool_id
    if not pool_id:
        raise IdentityProviderUnavailableError("No user pool is configured: COGNITO_USER_POOL_ID.")
    return pool_id


def get_cognito_client() -> CognitoIdentityProviderClient:
    """Return this process's Cognito client, creating it on first use."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = create_cognito_client(get_settings())
    return _client


def reset_cognito_client() -> None:
    """Forget the client (tests, SnapStart restore); the next call builds a new one."""
    global _client
    with _client_lock:
        _client = None


def create_cognito_client(settings: Settings) -> CognitoIdentityProviderClient:
    """Build a Cognito client: short timeouts, bounded retries, attempts within the deadline."""
    import boto3  # deferred: requests that never touch Cognito don't pay for the import
    from botocore.config import Config

    config = Config(
        region_name=settings.aws_region,
        connect_timeout=settings.cognito_connect_timeout,
        read_timeout=settings.cognito_read_timeout,
        retries={"max_attempts": settings.cognito_max_attempts, "mode": "standard"},
    )
    client = boto3.client("cognito-idp", endpoint_url=settings.cognito_endpoint_url, config=config)
    _attempts.install(client, attempt_seconds=longest_attempt_seconds(settings))
    return client


def longest_attempt_seconds(settings: Settings) -> float:
    """The longest one Cognito attempt may take: its connect timeout, then its read timeout."""
    return settings.cognito_connect_timeout + settings.cognito_read_timeout


def create_identity(email: str, *, invite: bool, deadline: Deadline) -> ProvisionedIdentity:
    """Create the identity of `email` (verified), or find the one it already has.

    With `invite`, Cognito emails the person an invitation with a temporary password;
    without, the identity is created silently (imports). An email that already has an
    identity (UsernameExistsException, e.g. a retry after an earlier attempt created it)
    returns that identity, `created` False.
    """
    client = get_cognito_client()
    options: dict[str, Any] = (
        {"DesiredDeliveryMediums": ["EMAIL"]} if invite else {"MessageAction": "SUPPRESS"}
    )
    with _identity_call(deadline, expected=(USERNAME_EXISTS,)) as answered:
        created = client.admin_create_user(
            UserPoolId=_pool_id(), Username=email, UserAttributes=_email(email), **options
        )
        return ProvisionedIdentity(subject=_attributes(created["User"])["sub"], created=True)
    if answered.code == USERNAME_EXISTS:
        existing = find_identity(email, deadline=deadline)
        if existing is not None:
            return ProvisionedIdentity(subject=existing.subject, created=False)
    raise IdentityProviderUnavailableError("Cognito neither created nor found the identity.")


def find_identity(username: str, *, deadline: Deadline) -> Identity | None:
    """Return the identity whose email or `sub` is `username`, or None."""
    client = get_cognito_client()
    with _identity_call(deadline, expected=(USER_NOT_FOUND,)):
        found = client.admin_get_user(UserPoolId=_pool_id(), Username=username)
        attributes = _attributes({"Attributes": found.get("UserAttributes", [])})
        return Identity(
            subject=attributes["sub"], email=attributes.get("email"), enabled=found["Enabled"]
        )
    return None


def identity_is_active(subject: str, *, deadline: Deadline) -> bool:
    """Whether the identity with this `sub` is still in the pool, and enabled."""
    identity = find_identity(subject, deadline=deadline)
    return identity is not None and identity.enabled


def update_identity_email(subject: str, email: str, *, deadline: Deadline) -> bool:
    """Give the identity `email`, verified; False when the identity does not exist."""
    client = get_cognito_client()
    with _identity_call(deadline, expected=(USER_NOT_FOUND,)):
        client.admin_update_user_attributes(
            UserPoolId=_pool_id(), Username=subject, UserAttributes=_email(email)
        )
        return True
    return False


def remove_identity(subject: str, *, deadline: Deadline) -> bool:
    """Revoke the identity's refresh tokens, then delete it; False when it did not exist."""
    return _signed_out_then(
        subject,
        lambda client, pool_id: client.admin_delete_user(UserPoolId=pool_id, Username=subject),
        deadline=deadline,
    )


def disable_identity(subject: str, *, deadline: Deadline) -> bool:
    """Revoke the identity's refresh tokens and stop it signing in (reversible); False when
    it does not exist."""
    return _signed_out_then(
        subject,
        lambda client, pool_id: client.admin_disable_user(UserPoolId=pool_id, Username=subject),
        deadline=deadline,
    )


def _signed_out_then(
    subject: str,
    then: Callable[[CognitoIdentityProviderClient, str], object],
    *,
    deadline: Deadline,
) -> bool:
    client = get_cognito_client()
    pool_id = _pool_id()
    with _identity_call(deadline, expected=(USER_NOT_FOUND,)):
        client.admin_user_global_sign_out(UserPoolId=pool_id, Username=subject)
        then(client, pool_id)
        return True
    return False


def list_identities(*, deadline: Deadline) -> tuple[list[Identity], bool]:
    """Every identity of the pool, page by page while time is left; and whether all were read."""
    client = get_cognito_client()
    identities: list[Identity] = []
    try:
        with _identity_call(deadline):
            pages = client.get_paginator("list_users").paginate(
                UserPoolId=_pool_id(),
                AttributesToGet=["sub", "email"],
                PaginationConfig={"PageSize": LIST_USERS_PAGE},
            )
            for page in pages:
                for user in page.get("Users", []):
                    attributes = _attributes(user)
                    identities.append(
                        Identity(
                            subject=attributes["sub"],
                            email=attributes.get("email"),
                            enabled=user.get("Enabled", True),
                            created_at=user.get("UserCreateDate"),
                        )
                    )
    except IdentityProviderUnavailableError as error:
        if not isinstance(error.__cause__, DeadlineReachedError):
            raise
        return identities, False
    return identities, True


def _email(email: str) -> Sequence[AttributeTypeTypeDef]:
    # The service validated the address; Cognito takes it as verified, so the person signs
    # in with it and Cognito sends no verification code.
    return [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]


def _attributes(user: Mapping[str, Any]) -> dict[str, str]:
    return {item["Name"]: item["Value"] for item in user.get("Attributes", [])}


@dataclass
class _Answer:
    """The expected error code a call inside `_identity_call` was answered with, if any."""

    code: str | None = None


@contextmanager
def _identity_call(deadline: Deadline, *, expected: tuple[str, ...] = ()) -> Iterator[_Answer]:
    """Bound the Cognito attempts inside by `deadline`; an error whose code is `expected` ends
    the block quietly (its code in the answer), any other failure is
    `IdentityProviderUnavailableError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    answer = _Answer()
    try:
        with _attempts.applied(deadline):
            yield answer
    except DeadlineReachedError as error:
        raise IdentityProviderUnavailableError(
            "Cognito did not answer in the time this request had; try again."
        ) from error
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code not in expected:
            raise IdentityProviderUnavailableError(
                f"Cognito did not complete the request ({code or 'no code'}); try again."
            ) from error
        answer.code = code
    except BotoCoreError as error:
        raise IdentityProviderUnavailableError(
            "Cognito did not complete the request; try again."
        ) from error

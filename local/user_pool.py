"""`make run`'s Cognito: a user pool on the moto server that serves S3, and signing people in.

`make run` creates the pool (shaped like the stack's: the email is the username, verified;
a public app client that signs in with SRP only), provisions identities into it through the
app, and writes where it is to `.local/cognito.json`, from which `make token` signs people
in. The local API verifies the pool's tokens with the key moto signs them with.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local.embedded_s3 import FAKE_CREDENTIALS

# Every local identity's password (local only): what `make token` signs in with, and what an
# invited person "chooses" at their first sign-in. The pool's policy accepts it.
LOCAL_PASSWORD = "Local-password-1!"  # noqa: S105
POOL_NAME = "users-local-users"
CLIENT_NAME = "users-local-api"
# As infra/auth.py makes the pool's password policy.
PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 3,
}


@dataclass(frozen=True)
class LocalUserPool:
    """A user pool and its app client on moto's Cognito, and where to reach them."""

    pool_id: str
    client_id: str
    region: str
    endpoint_url: str | None = None

    @property
    def issuer(self) -> str:
        """The `iss` claim of the pool's tokens (the same form as Cognito's own)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    def client(self) -> Any:
        """A boto3 Cognito client for the pool's endpoint."""
        import boto3

        return boto3.client(
            "cognito-idp",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def save(self, path: Path) -> None:
        """Write where the pool is, for `make token`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> LocalUserPool | None:
        """The pool `make run` saved at `path`, if any."""
        return cls(**json.loads(path.read_text())) if path.exists() else None


def create_user_pool(
    idp: Any, *, region: str = "us-east-1", endpoint_url: str | None = None
) -> LocalUserPool:
    """Create a pool shaped like the stack's, with a public SRP app client, through `idp`
    (a client of the moto server at `endpoint_url`, or of an in-process mock)."""
    pool = idp.create_user_pool(
        PoolName=POOL_NAME,
        UsernameAttributes=["email"],
        UsernameConfiguration={"CaseSensitive": False},
        AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": PASSWORD_POLICY},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        # The ID token carries these, as Cognito's does by default.
        ReadAttributes=["email", "email_verified"],
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
    )["UserPoolClient"]
    return LocalUserPool(
        pool_id=pool["Id"],
        client_id=client["ClientId"],
        region=region,
        endpoint_url=endpoint_url,
    )


def moto_token_key_pem() -> str:
    """The public key moto's Cognito signs every pool's tokens with (the JWKS it serves)."""
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import RSAAlgorithm
    from moto.utilities.utils import load_resource

    (jwk,) = load_resource("cognitoidp/resources/jwks-public.json")["keys"]
    key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    return key.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def ensure_identity(pool: LocalUserPool, email: str) -> str:
    """The `sub` of `email`'s identity, created with LOCAL_PASSWORD (no invitation) if none."""
    idp = pool.client()
    try:
        found = idp.admin_get_user(UserPoolId=pool.pool_id, Username=email)
        attributes = found["UserAttributes"]
    except idp.exceptions.UserNotFoundException:
        created = idp.admin_create_user(
            UserPoolId=pool.pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
        idp.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=email, Password=LOCAL_PASSWORD, Permanent=True
        )
        attributes = created["User"]["Attributes"]
    return str({item["Name"]: item["Value"] for item in attributes}["sub"])


def sign_in(pool: LocalUserPool, email: str) -> str:
    """Sign `email` in with SRP, as the app client allows, and return the ID token.

    An invited identity must choose its password at its first sign-in
    (NEW_PASSWORD_REQUIRED): it chooses LOCAL_PASSWORD.
    """
    from pycognito.aws_srp import AWSSRP
    from pycognito.exceptions import ForceChangePasswordException

    srp = AWSSRP(
        username=email,
        password=LOCAL_PASSWORD,
        pool_id=pool.pool_id,
        client_id=pool.client_id,
        client=pool.client(),
    )
    try:
        tokens = srp.authenticate_user()
    except ForceChangePasswordException:
        tokens = srp.set_new_password_challenge(LOCAL_PASSWORD)
    return str(tokens["AuthenticationResult"]["IdToken"])

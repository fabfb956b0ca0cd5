"""An S3 endpoint on loopback: moto's server, in this process."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from local.embedded_postgres import free_port, wait_until_accepting

# moto accepts any credentials; these keep boto3 from looking for real ones.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local-secret",
}


@dataclass
class EmbeddedS3:
    """A moto S3 server on 127.0.0.1 and the bucket the app stores files in."""

    bucket: str
    region: str = "us-east-1"
    port: int = 0

    def __post_init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = self.port or free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def endpoint_url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EmbeddedS3:
        """Start the server and create the bucket."""
        import boto3

        # werkzeug's request lines would print presigned URLs, signatures included.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        wait_until_accepting(self.port)
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        if self.region == "us-east-1":
            client.create_bucket(Bucket=self.bucket)
        else:
            client.create_bucket(
                Bucket=self.bucket,
                CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item]
            )
        return self

    def stop(self) -> None:
        """Stop the server; its objects are gone."""
        self._server.stop()


# --- Cognito, on the same moto server

# As infra/auth.py makes the pool: the email is the username, verified, passwords of 12+.
LOCAL_POOL_NAME = "users-local-users"
LOCAL_CLIENT_NAME = "users-local-api"
LOCAL_PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 3,
}


@dataclass(frozen=True)
class LocalUserPool:
    """A user pool and its app client on moto's Cognito, and the `iss` of their tokens."""

    pool_id: str
    client_id: str
    region: str

    @property
    def issuer(self) -> str:
        """The `iss` claim of the pool's tokens (the same form as Cognito's own)."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"


def create_user_pool(idp: Any, *, region: str = "us-east-1") -> LocalUserPool:
    """Create a pool shaped like the stack's, with a public SRP app client, through `idp`."""
    pool = idp.create_user_pool(
        PoolName=LOCAL_POOL_NAME,
        UsernameAttributes=["email"],
        UsernameConfiguration={"CaseSensitive": False},
        AutoVerifiedAttributes=["email"],
        Policies={"PasswordPolicy": LOCAL_PASSWORD_POLICY},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=LOCAL_CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        # The ID token carries these, as Cognito's does by default.
        ReadAttributes=["email", "email_verified"],
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
    )["UserPoolClient"]
    return LocalUserPool(pool_id=pool["Id"], client_id=client["ClientId"], region=region)


def moto_token_key_pem() -> str:
    """The public key moto's Cognito signs every pool's tokens with (the JWKS it serves)."""
    import json

    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import RSAAlgorithm
    from moto.utilities.utils import load_resource

    (jwk,) = load_resource("cognitoidp/resources/jwks-public.json")["keys"]
    key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    return key.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()

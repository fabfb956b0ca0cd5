"""Local tokens: an RSA key kept in .local/, and JWTs signed with it that the local app accepts."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

LOCAL_ISSUER = "users-service-local"
LOCAL_AUDIENCE = "users-service-local"
TOKEN_LIFETIME_SECONDS = 12 * 3600


def local_subject(email: str) -> str:
    """The `sub` of the local identity with this email."""
    return f"local|{email}"


def load_or_create_key(path: Path) -> bytes:
    """Return the PEM private key at `path`, creating a new RSA key there on first use."""
    if path.exists():
        return path.read_bytes()
    pem = new_private_key_pem()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return pem


def new_private_key_pem() -> bytes:
    """Generate an RSA 2048 private key in PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(private_pem: bytes) -> str:
    """Return the PEM public key of a PEM private key."""
    from cryptography.hazmat.primitives import serialization

    private_key = serialization.load_pem_private_key(private_pem, password=None)
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign_token(
    private_pem: bytes,
    *,
    subject: str,
    email: str | None = None,
    issuer: str = LOCAL_ISSUER,
    audience: str = LOCAL_AUDIENCE,
    lifetime: int = TOKEN_LIFETIME_SECONDS,
    **claims: Any,
) -> str:
    """Return an RS256 JWT shaped like a Cognito ID token; `claims` add or override claims."""
    import jwt

    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "token_use": "id",
    }
    if email is not None:
        # The local issuer has verified every address, as Cognito does after sign-up.
        payload["email"] = email
        payload["email_verified"] = True
    payload.update(claims)
    # A claim given as None is left out, e.g. `aud=None` for an access-token shape.
    present = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(present, _signing_key(private_pem), algorithm="RS256")


@functools.lru_cache(maxsize=8)
def _signing_key(private_pem: bytes) -> Any:
    # Loading an RSA key checks it, which takes tens of milliseconds: once per key.
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(private_pem, password=None)

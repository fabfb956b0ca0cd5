"""Who the caller is: API Gateway's verified claims on Lambda, a verified bearer token elsewhere."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambda_app.config import Settings
from lambda_app.exceptions import AuthNotConfiguredError, NotAuthenticatedError

if TYPE_CHECKING:
    from jwt import PyJWKClient

# Cognito signs with RS256; accepting only it rules out `none` and HS256-with-the-public-key.
ALLOWED_ALGORITHMS = ["RS256"]
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub"]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, whichever path verified them."""

    subject: str
    email: str | None
    claims: Mapping[str, Any] = field(repr=False)


def principal_from_lambda_event(event: Mapping[str, Any]) -> Principal:
    """Read the claims API Gateway's JWT authorizer verified; no claims means 401."""
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    # HTTP API (payload 2.0) nests them under "jwt"; a REST API Cognito authorizer does not.
    claims = (authorizer.get("jwt") or {}).get("claims") or authorizer.get("claims")
    if not isinstance(claims, Mapping) or not claims.get("sub"):
        raise NotAuthenticatedError("The request was not authorized by API Gateway.")
    return _principal(claims)


def principal_from_bearer(authorization: str | None, settings: Settings) -> Principal:
    """Verify `Authorization: Bearer <JWT>` against the configured issuer, audience and key."""
    import jwt  # deferred: on Lambda API Gateway verifies tokens and this is never needed

    token = _bearer_token(authorization)
    key = _verification_key(token, settings)
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=ALLOWED_ALGORITHMS,
            issuer=settings.auth_issuer,
            leeway=settings.auth_leeway_seconds,
            options={"require": REQUIRED_CLAIMS, "verify_aud": False},
        )
    except jwt.PyJWTError as error:
        raise NotAuthenticatedError(f"The bearer token is not valid: {error}.") from None
    if not _audience_matches(claims, settings.auth_audience):
        raise NotAuthenticatedError("The bearer token is not valid: it is for another audience.")
    return _principal(claims)


def _principal(claims: Mapping[str, Any]) -> Principal:
    email = claims.get("email")
    # Only a verified address is the caller's; a token that does not say so has none.
    if str(claims.get("email_verified", "false")).lower() != "true":
        email = None
    # Validated and normalised like any email in a body, by the route that uses it.
    return Principal(
        subject=str(claims["sub"]), email=str(email) if email else None, claims=dict(claims)
    )


def _bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticatedError("Send `Authorization: Bearer <token>`.")
    return token.strip()


def _audience_matches(claims: Mapping[str, Any], audience: str | None) -> bool:
    # Cognito ID tokens carry `aud`; its access tokens carry `client_id` instead.
    token_audience = claims.get("aud", claims.get("client_id"))
    if isinstance(token_audience, str):
        return token_audience == audience
    return isinstance(token_audience, list) and audience in token_audience


def _verification_key(token: str, settings: Settings) -> Any:
    if not (settings.auth_issuer and settings.auth_audience):
        raise AuthNotConfiguredError("Set AUTH_ISSUER and AUTH_AUDIENCE to verify tokens.")
    if settings.auth_public_key_pem:
        return settings.auth_public_key_pem
    if settings.auth_jwks_url:
        import jwt

        try:
            return _jwks_client(settings.auth_jwks_url).get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as error:
            raise AuthNotConfiguredError("The token issuer's keys could not be fetched.") from error
        except jwt.PyJWTError as error:
            raise NotAuthenticatedError(f"The bearer token is not valid: {error}.") from None
    raise AuthNotConfiguredError("Set AUTH_PUBLIC_KEY_PEM or AUTH_JWKS_URL to verify tokens.")


_jwks_clients: dict[str, PyJWKClient] = {}
_jwks_lock = threading.Lock()


def _jwks_client(url: str) -> PyJWKClient:
    """One JWKS client per URL and process; it caches the keys it fetched."""
    from jwt import PyJWKClient

    with _jwks_lock:
        if url not in _jwks_clients:
            _jwks_clients[url] = PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)
        return _jwks_clients[url]

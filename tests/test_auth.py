"""Who the caller is: bearer tokens verified outside Lambda, authorizer claims on Lambda."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from lambda_app.dependencies import AuthenticatedRoute
from lambda_app.main import create_app
from local.dev_auth import new_private_key_pem, public_key_pem, sign_token
from local.embedded_postgres import free_port
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_SUBJECT,
    SIGNING_KEY_PEM,
    TEST_AUDIENCE,
    TEST_ISSUER,
    settings_env,
    token_for,
)
from tests.routers.test_users import assert_problem

OTHER_KEY_PEM = new_private_key_pem()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


def valid_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": ADMIN_SUBJECT, "iss": TEST_ISSUER, "aud": TEST_AUDIENCE, "iat": now}
    return {**claims, "exp": now + 600, **overrides}


def hs256_with_public_key() -> str:
    """The classic confusion attack: HMAC keyed with the server's public key."""
    signing_input = unsigned_token({"alg": "HS256", "typ": "JWT"}, valid_claims())
    secret = public_key_pem(SIGNING_KEY_PEM).encode()
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def alg_none() -> str:
    return unsigned_token({"alg": "none", "typ": "JWT"}, valid_claims()) + "."


FAULTY_HEADERS = {
    "none": {},
    "garbage": {"Authorization": "Bearer not-a-jwt"},
    "empty bearer": {"Authorization": "Bearer "},
    "basic scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "expired": {"Authorization": f"Bearer {token_for(ADMIN_SUBJECT, lifetime=-3600)}"},
    "not yet valid": {
        "Authorization": f"Bearer {token_for(ADMIN_SUBJECT, nbf=int(time.time()) + 3600)}"
    },
    "wrong issuer": {"Authorization": f"Bearer {token_for(ADMIN_SUBJECT, iss='https://evil')}"},
    "wrong audience": {"Authorization": f"Bearer {token_for(ADMIN_SUBJECT, aud='other-app')}"},
    "wrong client id": {
        "Authorization": "Bearer "
        + sign_token(
            SIGNING_KEY_PEM,
            subject=ADMIN_SUBJECT,
            issuer=TEST_ISSUER,
            audience="unused",
            aud=None,
            client_id="other-app",
        )
    },
    "wrong key": {
        "Authorization": "Bearer "
        + sign_token(
            OTHER_KEY_PEM, subject=ADMIN_SUBJECT, issuer=TEST_ISSUER, audience=TEST_AUDIENCE
        )
    },
    "alg none": {"Authorization": f"Bearer {alg_none()}"},
    "HS256 with the public key": {"Authorization": f"Bearer {hs256_with_public_key()}"},
    "no subject": {"Authorization": f"Bearer {token_for('', sub=None)}"},
}


@pytest.mark.parametrize("fault", FAULTY_HEADERS)
def test_bad_credentials_are_401_with_www_authenticate(
    client: TestClient, admin: dict[str, Any], fault: str
) -> None:
    client.headers.pop("Authorization")

    response = client.get(f"/users/{admin['id']}", headers=FAULTY_HEADERS[fault])

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_a_caller_without_a_token_gets_401_before_the_path_is_checked(
    client: TestClient, method: str
) -> None:
    client.headers.pop("Authorization")

    response = client.request(method, "/users/not-a-uuid", json={"full_name": "x"})

    assert_problem(response, 401)


def test_every_route_that_answers_401_authenticates_its_caller_first() -> None:
    routes = [route for route in create_app().routes if isinstance(route, APIRoute)]

    unauthenticated = {
        route.path
        for route in routes
        if 401 in route.responses
        if not isinstance(route, AuthenticatedRoute)
    }
    undocumented = {
        route.path
        for route in routes
        if isinstance(route, AuthenticatedRoute)
        if 401 not in route.responses
    }

    assert (unauthenticated, undocumented) == (set(), set())
    assert any(isinstance(route, AuthenticatedRoute) for route in routes)


def test_health_needs_no_token(client: TestClient) -> None:
    client.headers.pop("Authorization")

    assert client.get("/health").status_code == 200


def test_a_valid_token_reaches_the_route(client: TestClient, admin: dict[str, Any]) -> None:
    assert client.get(f"/users/{admin['id']}").json()["email"] == ADMIN_EMAIL


def test_a_cognito_access_token_with_client_id_is_accepted(
    client: TestClient, admin: dict[str, Any]
) -> None:
    access_token = sign_token(
        SIGNING_KEY_PEM,
        subject=ADMIN_SUBJECT,
        issuer=TEST_ISSUER,
        audience="unused",
        aud=None,
        client_id=TEST_AUDIENCE,
        token_use="access",
    )

    response = client.get("/users/me", headers={"Authorization": f"Bearer {access_token}"})

    assert response.status_code == 200


def test_claims_smuggled_in_headers_are_not_trusted_outside_lambda(
    client: TestClient,
) -> None:
    client.headers.pop("Authorization")
    forged = {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": ADMIN_SUBJECT}}}}}

    response = client.get(
        "/users", headers={"x-amzn-request-context": json.dumps(forged["requestContext"])}
    )

    assert_problem(response, 401)


def test_without_auth_settings_protected_routes_are_503(app_env: Any, s3: Any) -> None:
    with settings_env(AUTH_ISSUER=None, AUTH_PUBLIC_KEY_PEM=None, AUTH_JWKS_URL=None):
        response = TestClient(create_app()).get(
            "/users", headers={"Authorization": f"Bearer {token_for(ADMIN_SUBJECT)}"}
        )

    assert assert_problem(response, 503)["title"] == "Authentication not configured"


# --- keys from a JWKS endpoint


class _JwksHandler(BaseHTTPRequestHandler):
    document = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def jwks_url(app_env: Any) -> Iterator[str]:
    """A JWKS endpoint on loopback publishing the test key as kid `test-key`."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    public_key = load_pem_public_key(public_key_pem(SIGNING_KEY_PEM).encode())
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public_key))
    _JwksHandler.document = json.dumps(
        {"keys": [{**jwk, "kid": "test-key", "alg": "RS256", "use": "sig"}]}
    ).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    try:
        with settings_env(AUTH_PUBLIC_KEY_PEM=None, AUTH_JWKS_URL=url):
            yield url
    finally:
        server.shutdown()


def _kid_token(kid: str) -> str:
    return jwt.encode(valid_claims(), SIGNING_KEY_PEM, algorithm="RS256", headers={"kid": kid})


def test_tokens_verify_against_keys_from_jwks(
    jwks_url: str, admin: dict[str, Any], s3: Any
) -> None:
    client = TestClient(create_app())

    known = client.get("/users/me", headers={"Authorization": f"Bearer {_kid_token('test-key')}"})
    unknown = client.get("/users/me", headers={"Authorization": f"Bearer {_kid_token('rotated')}"})

    assert known.status_code == 200
    assert_problem(unknown, 401)


def test_unreachable_jwks_is_503_not_401(app_env: Any, admin: dict[str, Any], s3: Any) -> None:
    with settings_env(AUTH_PUBLIC_KEY_PEM=None, AUTH_JWKS_URL=f"http://127.0.0.1:{free_port()}/"):
        response = TestClient(create_app()).get(
            "/users/me", headers={"Authorization": f"Bearer {_kid_token('test-key')}"}
        )

    assert_problem(response, 503)


def test_no_route_but_health_answers_without_a_token(client: TestClient) -> None:
    client.headers.pop("Authorization")
    spec = client.get("/openapi.json").json()
    some_id = "00000000-0000-4000-8000-000000000000"

    statuses = {
        (method.upper(), path): client.request(
            method, path.replace("{user_id}", some_id), json={}
        ).status_code
        for path, item in spec["paths"].items()
        for method in item
    }

    assert statuses.pop(("GET", "/health")) == 200
    assert set(statuses.values()) == {401}
    assert len(statuses) == 10

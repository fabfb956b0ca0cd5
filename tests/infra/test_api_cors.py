"""API: CORS for browser clients, and the route that keeps preflights clear of the JWT."""

from __future__ import annotations

from typing import Any

from lambda_app.middleware.cors import CORS_ALLOWED_HEADERS, CORS_EXPOSED_HEADERS
from tests.infra.conftest import Synthesized


def _route(synth: Synthesized, route_key: str) -> dict[str, Any]:
    (route,) = [
        route["Properties"]
        for route in synth.resources("AWS::ApiGatewayV2::Route").values()
        if route["Properties"]["RouteKey"] == route_key
    ]
    return route


def _cors(synth: Synthesized) -> dict[str, Any]:
    (api,) = synth.resources("AWS::ApiGatewayV2::Api").values()
    cors: dict[str, Any] = api["Properties"]["CorsConfiguration"]
    return cors


def test_cors_lets_the_allowed_origins_call_the_api_with_a_bearer_token(
    dev: Synthesized,
) -> None:
    assert _cors(dev) == {
        "AllowOrigins": ["https://app.example.com", "https://admin.example.com"],
        "AllowMethods": ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        # One list for the app and API Gateway (lambda_app/middleware/cors.py).
        "AllowHeaders": list(CORS_ALLOWED_HEADERS),
        "ExposeHeaders": list(CORS_EXPOSED_HEADERS),
        "AllowCredentials": False,
        "MaxAge": 3600,
    }


def test_api_and_bucket_allow_the_same_origins(dev: Synthesized, prod: Synthesized) -> None:
    for synth in (dev, prod):
        (bucket,) = synth.resources("AWS::S3::Bucket").values()
        (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
        assert _cors(synth)["AllowOrigins"] == rule["AllowedOrigins"]


def test_cors_preflights_match_a_route_without_the_authorizer(dev: Synthesized) -> None:
    # $default (JWT) catches every method, OPTIONS included; this route outranks it, so a
    # browser's token-less preflight reaches API Gateway's CORS answer instead of a 401.
    route = _route(dev, "OPTIONS /{proxy+}")
    assert route["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in route

"""Real-shaped API Gateway HTTP API (payload 2.0) events and a Lambda context object."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

API_ID = "abc123xyz0"
DOMAIN = f"{API_ID}.execute-api.eu-west-1.amazonaws.com"
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI"
CLIENT_ID = "users-service-bench-client"
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:users-api"


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Mangum read."""

    aws_request_id: str
    function_name: str = "users-api"
    function_version: str = "$LATEST"
    invoked_function_arn: str = FUNCTION_ARN
    memory_limit_in_mb: int = 1024
    log_group_name: str = "/aws/lambda/users-api"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's budget left for this invocation; the bench never runs near it."""
        return 29_000


def lambda_context() -> LambdaContext:
    """A context object for one invocation, with a fresh request id."""
    return LambdaContext(aws_request_id=str(uuid.uuid4()))


def jwt_claims(subject: str, email: str) -> dict[str, str]:
    """Claims of a Cognito ID token as API Gateway's JWT authorizer passes them: all strings."""
    now = int(time.time())
    return {
        "aud": CLIENT_ID,
        "auth_time": str(now - 60),
        "cognito:username": subject,
        "email": email,
        "email_verified": "true",
        "event_id": str(uuid.uuid4()),
        "exp": str(now + 3600),
        "iat": str(now - 60),
        "iss": ISSUER,
        "jti": str(uuid.uuid4()),
        "origin_jti": str(uuid.uuid4()),
        "sub": subject,
        "token_use": "id",
    }


def http_api_event(
    method: str,
    path: str,
    *,
    subject: str,
    email: str,
    query: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API v2 event for `method path`, authorized as `subject` by the JWT authorizer."""
    raw_body = json.dumps(body) if body is not None else None
    headers = {
        "accept": "application/json",
        "content-length": str(len(raw_body.encode()) if raw_body is not None else 0),
        "host": DOMAIN,
        "user-agent": "users-service-bench/1.0",
        "x-amzn-trace-id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        "authorization": "Bearer eyJraWQiOiJ...",
    }
    if raw_body is not None:
        headers["content-type"] = "application/json"
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "users-service-bench/1.0",
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
            "authorizer": {"jwt": {"claims": jwt_claims(subject, email), "scopes": None}},
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if raw_body is not None:
        event["body"] = raw_body
    return event

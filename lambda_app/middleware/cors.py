"""CORS for browser clients: the headers they may send and read, one list for app and CDK.

On AWS, API Gateway answers CORS itself (infra/api.py takes these lists); the app answers it
only where it is served directly and CORS_ALLOWED_ORIGINS is set.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

CORS_ALLOWED_METHODS = ("GET", "POST", "PATCH", "DELETE")
# Sent by browser clients: the token, JSON bodies, a request id to correlate, preconditions
# and idempotency keys.
CORS_ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "x-request-id",
    "if-match",
    "if-none-match",
    "idempotency-key",
)
# Read by browser clients: the request id to quote in a report, a created user's URL, the
# version to send back in If-Match, and whether an answer was replayed.
CORS_EXPOSED_HEADERS = ("x-request-id", "location", "etag", "idempotent-replayed")
CORS_MAX_AGE_SECONDS = 3600


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """Answer CORS for `origins` with the lists above."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=list(CORS_ALLOWED_METHODS),
        allow_headers=list(CORS_ALLOWED_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        max_age=CORS_MAX_AGE_SECONDS,
    )

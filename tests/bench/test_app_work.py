"""The app's own work per warm request, in Python calls over the bare stack: deterministic."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine

from tests.conftest import ADMIN_EMAIL, ADMIN_SUBJECT, insert_user
from tests.test_handler import in_a_fresh_process

# What `GET /users/{id}` may add to the bare stack's Python calls per request: the caller's
# authentication and lookup, permissions, the ETag, the response model, the request log line
# and the metrics line, two middlewares. Measured 120 on CPython 3.11 with the pinned packages
# (1,089 against 969). Each FastAPI dependency resolved on the way would add about 75 (the
# caller and the principal below it added 153); routers included in the app rather than
# declared on it, 257; the request line made as a record and passed through logging's
# handlers, 45; the caller read as a row of its own beside the user's, 40; FastAPI's pages
# matched before the API's routes, 16.
APP_OWN_CALLS_GET_USER = 140

# A fresh process, as on Lambda: the handler's own logging, no test's handlers or state.
CALLS_PER_REQUEST = """
import json, sys
from bench import stack_handler
from bench.calls import warm_calls
from bench.events import http_api_event
from lambda_app.handler import handler

def event():
    return http_api_event("GET", f"/users/{sys.argv[1]}", subject=sys.argv[2], email=sys.argv[3])

print(json.dumps(warm_calls({"app": handler, "bare": stack_handler.bare_handler}, event)))
"""


def test_get_user_adds_few_python_calls_to_the_bare_stack(
    admin: dict[str, Any], db_engine: Engine
) -> None:
    other = insert_user(db_engine, email="other@example.com", user_type="customer", subject=None)
    environment = {**os.environ, "LOG_LEVEL": "INFO"}

    calls = in_a_fresh_process(
        CALLS_PER_REQUEST, other, ADMIN_SUBJECT, ADMIN_EMAIL, environment=environment
    )

    assert calls["app"] - calls["bare"] <= APP_OWN_CALLS_GET_USER, calls

"""Property-based requests generated from the app's own OpenAPI: no 5xx, and every answer
conforms to the documented status codes, content types and schemas.

A fixed seed and a bounded number of examples keep runs repeatable and CI-sized.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lambda_app.main import create_app
from tests.conftest import bearer, insert_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 30
CUSTOMER_SUBJECT = "fuzz-customer"

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@pytest.fixture
def callers(client: Any, admin: dict[str, Any], db_engine: Any) -> dict[str, dict[str, str]]:
    """Headers of the two roles the fuzzer plays: an admin and a customer."""
    insert_user(
        db_engine, email="fuzz-customer@example.com", user_type="customer", subject=CUSTOMER_SUBJECT
    )
    return {"admin": admin["headers"], "customer": bearer(CUSTOMER_SUBJECT)}


@pytest.mark.parametrize("role", ["admin", "customer"])
@schema.parametrize()
@seed(20261128)
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_get_documented_answers(
    case: schemathesis.Case, callers: dict[str, dict[str, str]], role: str
) -> None:
    case.call_and_validate(headers=callers[role], checks=CHECKS)

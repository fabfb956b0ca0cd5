"""What a route answers when the driver cannot read an answer.

A value the driver cannot decode is the service's failure (500 problem), and it stays with
the request that met it: the next request on the same pooled connection gets its own rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app.db import dispose_engine
from tests.conftest import APP_DB_ROLE, close_app_role_sessions

INTERNAL_ERROR = "The service failed to answer; the error has been logged."


@pytest.fixture
def sql_ascii_sessions(db_engine: Engine) -> Iterator[None]:
    """New sessions of the API's role get client_encoding SQL_ASCII (an operator's mistake).

    The server then sends text as it is stored, and the driver reads it as ASCII: a name
    that is not ASCII cannot be decoded.
    """
    role = f'ALTER ROLE "{APP_DB_ROLE}" IN DATABASE "{db_engine.url.database}" '
    with db_engine.begin() as connection:
        connection.execute(text(role + "SET client_encoding = 'SQL_ASCII'"))
    dispose_engine()
    try:
        yield
    finally:
        with db_engine.begin() as connection:
            connection.execute(text(role + "RESET client_encoding"))
        dispose_engine()
        close_app_role_sessions(db_engine)


def assert_internal_error(response: Any) -> None:
    assert response.status_code == 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == INTERNAL_ERROR


@pytest.mark.direct_database  # the role's setting reaches the app's own server sessions
def test_a_row_the_driver_cannot_decode_is_a_500_and_the_next_request_gets_its_own(
    client: TestClient, make_user: Any, request: pytest.FixtureRequest
) -> None:
    unreadable = make_user(full_name="Zoë")
    readable = make_user(full_name="Zoe")
    request.getfixturevalue("sql_ascii_sessions")

    assert_internal_error(client.get(f"/users/{unreadable['id']}"))
    after = client.get(f"/users/{readable['id']}")  # on the pool's one connection

    assert after.status_code == 200, after.text
    assert after.json() == readable
    assert_internal_error(client.get(f"/users/{unreadable['id']}"))

"""Every error answers problem+json, and nothing internal leaks into it."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lambda_app.main import create_app
from tests.routers.test_users import assert_problem


def test_unexpected_errors_are_500_problem_without_internals() -> None:
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret connection string postgres://u:hunter2@db")

    response = TestClient(app, raise_server_exceptions=False).get("/boom")

    assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text


def test_wrong_method_is_405_problem() -> None:
    assert_problem(TestClient(create_app()).put("/health"), 405)


def test_unknown_path_is_404_problem() -> None:
    body = assert_problem(TestClient(create_app()).get("/nowhere"), 404)

    assert body["type"] == "about:blank"


def test_validation_problem_lists_every_invalid_field(client: TestClient) -> None:
    response = client.post("/users", json={"email": "nope", "full_name": "x" * 300, "extra": 1})

    body = assert_problem(response, 422)
    assert {error["field"] for error in body["errors"]} == {
        "body.email",
        "body.full_name",
        "body.extra",
    }


# Bound, not in the statement's text: a traceback may quote the source line, never the value.
PRIVATE_ROW = {"email": "Private.Person@Example.com"}


def test_a_database_error_is_logged_without_the_row_it_quotes(
    app_env: dict[str, str], db_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app()

    @app.get("/bad-row")
    def bad_row() -> None:
        # The check constraint's error carries DETAIL "Failing row contains (...)".
        with db_engine.begin() as connection:
            connection.execute(text("INSERT INTO users (email) VALUES (:email)"), PRIVATE_ROW)

    with caplog.at_level(logging.ERROR):
        response = TestClient(app, raise_server_exceptions=False).get("/bad-row")

    assert_problem(response, 500)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "ck_users_email_normalized" in logged
    assert "Private.Person" not in logged
    assert "Failing row" not in logged

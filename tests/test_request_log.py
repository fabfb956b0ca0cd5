"""What operators see: one JSON line per request, the request id, errors once, Lambda metrics."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lambda_app.main import create_app
from lambda_app.utils.json_logs import (
    APP_LOGGER,
    REQUEST_ID,
    JsonFormatter,
    install_request_id_stamp,
    redact,
    utc_timestamp,
    write_json_line,
)
from tests.test_handler import in_a_fresh_process, lambda_context, load_event, reload_handler


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def json_lines(self, logger_name: str) -> list[dict[str, Any]]:
        formatter = JsonFormatter()
        return [
            json.loads(formatter.format(record))
            for record in self.records
            if record.name == logger_name
        ]


@pytest.fixture
def app_logs() -> Iterator[_Records]:
    handler = _Records()
    logger = logging.getLogger(APP_LOGGER)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_each_request_is_one_json_line_with_its_id(
    client: TestClient, admin: dict[str, Any], app_logs: _Records
) -> None:
    response = client.get(f"/users/{admin['id']}")

    lines = app_logs.json_lines("lambda_app.requests")
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["x-request-id"]
    assert len(response.headers["x-request-id"]) == 32
    assert (line["method"], line["route"], line["status"]) == ("GET", "/users/{user_id}", 200)
    assert line["user_id"] == admin["id"]
    assert line["duration_ms"] >= 0
    assert line["level"] == "INFO"


def test_the_run_wide_log_check_sees_request_lines(
    client: TestClient, logs_hold_no_secrets: Any
) -> None:
    before = len(logs_hold_no_secrets.lines)

    client.get("/health")

    assert any('"lambda_app.requests"' in line for line in logs_hold_no_secrets.lines[before:])


@pytest.mark.parametrize(
    ("method", "path", "route", "status"),
    [
        ("GET", "/docs", "/docs", 200),
        ("GET", "/openapi.json", "/openapi.json", 200),
        ("POST", "/docs", "/docs", 405),
        ("GET", "/no-such-page", "unmatched", 404),
        ("GET", "/users/me/no-such-page", "unmatched", 404),
    ],
)
def test_fastapis_own_pages_log_their_path_and_unknown_paths_log_unmatched(
    client: TestClient, app_logs: _Records, method: str, path: str, route: str, status: int
) -> None:
    client.request(method, path)

    [line] = app_logs.json_lines("lambda_app.requests")
    assert (line["route"], line["status"]) == (route, status)


def test_a_well_formed_client_request_id_is_kept(client: TestClient, app_logs: _Records) -> None:
    response = client.get("/health", headers={"x-request-id": "client-1234-abcd"})

    assert response.headers["x-request-id"] == "client-1234-abcd"
    assert app_logs.json_lines("lambda_app.requests")[0]["request_id"] == "client-1234-abcd"


@pytest.mark.parametrize("supplied", ["short", "has space in it", "x" * 200, "a\tb-c-d-e-f"])
def test_a_malformed_client_request_id_is_replaced(client: TestClient, supplied: str) -> None:
    response = client.get("/health", headers={"x-request-id": supplied})

    assert response.headers["x-request-id"] != supplied


def test_refused_requests_are_logged_too(client: TestClient, app_logs: _Records) -> None:
    client.headers.pop("Authorization")

    client.get("/users")
    client.post("/users", content=b"x" * 70_000, headers={"content-type": "application/json"})

    statuses = [line["status"] for line in app_logs.json_lines("lambda_app.requests")]
    assert statuses == [401, 413]


def test_an_error_is_logged_once_with_the_request_id(app_logs: _Records) -> None:
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("it broke")

    response = TestClient(app, raise_server_exceptions=False).get("/boom")

    errors = [record for record in app_logs.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = json.loads(JsonFormatter().format(errors[0]))
    assert line["request_id"] == response.headers["x-request-id"]
    assert "RuntimeError: it broke" in line["exception"]
    assert "it broke" not in response.text


def test_secrets_in_messages_are_masked_in_log_lines() -> None:
    record = logging.makeLogRecord(
        {
            "name": "lambda_app.test",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "connect to postgresql://app:s3cr3t@db/users with Bearer abc.def-ghi",
        }
    )

    line = JsonFormatter().format(record)

    assert "s3cr3t" not in line
    assert "abc.def-ghi" not in line
    assert "postgresql://app:***@db/users" in line


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("postgresql://app:s3cr3t@db/users", "postgresql://app:***@db/users"),
        ("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "<jwt>"),
        ("avatar?X-Amz-Signature=0123abcdef", "avatar?X-Amz-Signature=***"),
        ("avatar?x-amz-SIGNATURE=0123abcdef", "avatar?x-amz-SIGNATURE=***"),
        ("BEARER opaque-token_1", "BEARER ***"),
        ("bearer opaque-token_1", "bearer ***"),
    ],
)
def test_every_kind_of_secret_is_masked_in_any_letter_case(secret: str, masked: str) -> None:
    assert redact(f"failed: {secret} (retrying)") == f"failed: {masked} (retrying)"


def test_a_line_without_secrets_is_left_as_it_is() -> None:
    line = '{"message": "GET /users/{user_id} 200", "route": "/users/{user_id}"}'

    assert redact(line) == line


# --- the request line written straight to the app's JSON handler


@pytest.fixture
def json_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records reach one JSON handler and nothing else, as on Lambda.

    Made outside logging's registry, where pytest adds handlers of its own to every logger.
    """
    install_request_id_stamp()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    parent = logging.Logger("json-lines-test", logging.INFO)
    parent.addHandler(handler)
    parent.propagate = False
    logger = logging.Logger("json-lines-test.requests")
    logger.parent = parent
    token = REQUEST_ID.set("request-12345678")
    yield logger, stream
    REQUEST_ID.reset(token)


FIELDS = {"method": "GET", "route": "/users/{user_id}", "status": 200, "cold_start": False}


def test_a_line_written_directly_reads_as_its_records_line(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_lines

    written = write_json_line(logger, logging.INFO, "GET /users/{user_id} 200", FIELDS)
    args = ("GET", "/users/{user_id}", 200)
    logger.handle(
        logger.makeRecord(logger.name, logging.INFO, "", 0, "%s %s %s", args, None, extra=FIELDS)
    )

    direct, formatted = (json.loads(line) for line in stream.getvalue().splitlines())
    assert written
    assert list(direct) == list(formatted)
    assert {**direct, "timestamp": None} == {**formatted, "timestamp": None}
    assert direct["request_id"] == "request-12345678"


def test_a_line_written_directly_is_masked_too(
    json_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_lines
    REQUEST_ID.set("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")

    write_json_line(logger, logging.INFO, "GET /health 200", FIELDS)

    assert json.loads(stream.getvalue())["request_id"] == "<jwt>"


@pytest.mark.parametrize("listener", ["handler", "filter", "propagation", "record factory"])
def test_a_record_is_made_when_anything_else_would_see_it(
    json_lines: tuple[logging.Logger, io.StringIO], listener: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, stream = json_lines
    assert logger.parent is not None
    if listener == "handler":
        monkeypatch.setattr(logger, "handlers", [logging.NullHandler()])
    elif listener == "filter":
        monkeypatch.setattr(logger, "filters", [logging.Filter("json-lines-test")])
    elif listener == "propagation":  # the root logger's handlers get it too
        monkeypatch.setattr(logger.parent, "propagate", True)
        monkeypatch.setattr(logger.parent, "parent", logging.getLogger())
    else:
        monkeypatch.setattr(logging, "_logRecordFactory", logging.LogRecord)

    assert not write_json_line(logger, logging.INFO, "GET /health 200", FIELDS)
    assert stream.getvalue() == ""


# The request line on stdout of a fresh process, as on Lambda: no test's handler attached.
LAMBDA_REQUEST_LINE = """
import sys
from bench.events import http_api_event, lambda_context
from lambda_app.handler import handler

handler(http_api_event("GET", "/no-such-page", subject="someone", email=None), lambda_context())
"""


def test_on_lambda_the_request_line_holds_every_field_in_order(admin: dict[str, Any]) -> None:
    line = in_a_fresh_process(LAMBDA_REQUEST_LINE, environment={**os.environ, "LOG_LEVEL": "INFO"})

    assert list(line) == [
        "timestamp",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "route",
        "status",
        "duration_ms",
        "apigw_request_id",
        "cold_start",
    ]
    assert (line["logger"], line["route"], line["status"]) == (
        "lambda_app.requests",
        "unmatched",
        404,
    )
    assert line["cold_start"] is True


# --- on Lambda


def test_lambda_requests_log_the_lambda_ids_cold_start_and_metrics(
    admin: dict[str, Any], s3: Any, app_logs: _Records, capsys: pytest.CaptureFixture[str]
) -> None:
    module = reload_handler()
    event = load_event("http_api_list_users_query.json")

    first = module.handler(event, lambda_context())
    second = module.handler(event, lambda_context())

    lines = app_logs.json_lines("lambda_app.requests")
    assert [line["cold_start"] for line in lines] == [True, False]
    assert lines[0]["request_id"] == lambda_context().aws_request_id
    assert lines[0]["apigw_request_id"] == event["requestContext"]["requestId"]
    assert lines[0]["route"] == "/users"
    assert first["headers"]["x-request-id"] == second["headers"]["x-request-id"]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    requests = [m for m in metrics if "Requests" in m]
    assert [(m["route"], m["status_class"]) for m in requests] == [("/users", "2xx")] * 2
    assert sum("ColdStart" in m for m in metrics) == 1
    namespaces = {m["_aws"]["CloudWatchMetrics"][0]["Namespace"] for m in metrics}
    assert namespaces == {"UsersService"}


def test_docs_behind_a_named_stage_are_counted_under_their_route(
    admin: dict[str, Any], s3: Any, app_logs: _Records, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import settings_env

    with settings_env(API_BASE_PATH="/prod"):
        module = reload_handler()
        for name in ("http_api_named_stage_docs.json", "http_api_named_stage_openapi.json"):
            assert module.handler(load_event(name), lambda_context())["statusCode"] == 200
    reload_handler()

    routes = [line["route"] for line in app_logs.json_lines("lambda_app.requests")]
    assert routes == ["/docs", "/openapi.json"]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [m["route"] for m in metrics if "Requests" in m] == routes


def test_configured_origins_get_cors_answers(admin: dict[str, Any], s3: Any) -> None:
    from tests.conftest import settings_env

    with settings_env(CORS_ALLOWED_ORIGINS='["https://app.example.com"]'):
        client = TestClient(create_app())
        preflight = client.options(
            "/users",
            headers={
                "origin": "https://app.example.com",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization,content-type,idempotency-key",
            },
        )
        conditional = client.options(
            "/users/x",
            headers={
                "origin": "https://app.example.com",
                "access-control-request-method": "PATCH",
                "access-control-request-headers": "if-match,if-none-match",
            },
        )
        created = client.post(
            "/users",
            json={"email": "cors@example.com"},
            headers={**admin["headers"], "origin": "https://app.example.com"},
        )
        other = client.options(
            "/users",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )

    assert preflight.status_code == conditional.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    exposed = {name.strip() for name in created.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "location", "idempotent-replayed", "x-request-id"} <= exposed
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    "created",
    [
        1796310568.0,
        1796310568.0005,
        1796310568.298,
        1796310568.9995,
        1796310568.9999995,  # rounds up into the next second
        1735689599.9999996,  # and into the next year
    ],
)
def test_line_times_read_as_datetime_writes_them(created: float) -> None:
    expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")

    assert utc_timestamp(created) == expected
    assert utc_timestamp(created) == expected  # the second's text, now cached

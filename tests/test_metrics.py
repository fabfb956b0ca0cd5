"""The request metrics: embedded metric format lines that CloudWatch Logs can extract."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lambda_app.external_services.metrics import SERVICE_VARIABLE, request_metrics


def extracted(line: str) -> dict[tuple[str, str], dict[str, Any]]:
    """What CloudWatch would take from the line: {(namespace, metric): dimensions and value}.

    Checks the rules of AWS's EMF specification on the way: every dimension and metric a
    directive names is a member of the root, dimension values are strings, metric values
    numbers, and the timestamp is in epoch milliseconds.
    """
    document = json.loads(line)
    metadata = document["_aws"]
    assert abs(metadata["Timestamp"] - time.time() * 1000) < 60_000
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for directive in metadata["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            dimensions = {key: document[key] for key in dimension_set}
            assert all(isinstance(value, str) and value for value in dimensions.values())
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                assert isinstance(value, int | float)
                found[(directive["Namespace"], metric["Name"])] = {**dimensions, "value": value}
    return found


def test_a_request_counts_by_service_route_and_status_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SERVICE_VARIABLE, "users-api")

    metrics = extracted(request_metrics("/users/{user_id}", 404, cold_start=False))

    assert metrics == {
        ("UsersService", "Requests"): {
            "service": "users-api",
            "route": "/users/{user_id}",
            "status_class": "4xx",
            "value": 1,
        }
    }


def test_a_cold_start_is_counted_by_service_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SERVICE_VARIABLE, raising=False)

    metrics = extracted(request_metrics("/users", 200, cold_start=True))

    assert metrics[("UsersService", "ColdStart")] == {"service": "users-api", "value": 1}
    assert metrics[("UsersService", "Requests")]["status_class"] == "2xx"


def test_lines_of_different_routes_and_statuses_keep_their_own_dimensions() -> None:
    asked = [("/users", 200), ("/users/{user_id}", 503), ("/users", 404), ("/users", 200)]

    requests = [
        extracted(request_metrics(route, status, cold_start=False))[("UsersService", "Requests")]
        for route, status in asked
    ]

    assert [(r["route"], r["status_class"]) for r in requests] == [
        ("/users", "2xx"),
        ("/users/{user_id}", "5xx"),
        ("/users", "4xx"),
        ("/users", "2xx"),
    ]

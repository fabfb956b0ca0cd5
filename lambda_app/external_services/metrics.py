"""CloudWatch metrics as embedded metric format (EMF) lines on stdout, which Lambda ships.

Each line is written by hand after AWS's EMF specification: a `_aws` member with the time
and one directive per metric, the values and dimensions at the root. CloudWatch Logs turns
such lines into metrics: no API call, no IAM permission, no library on the request path.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from functools import lru_cache
from typing import Any

from lambda_app.config import get_settings

logger = logging.getLogger(__name__)
# Powertools' variable, which the tracer reads too: metrics and traces name one service.
SERVICE_VARIABLE = "POWERTOOLS_SERVICE_NAME"
DEFAULT_SERVICE = "users-api"
_LINE_START = '{"_aws": {"Timestamp": '


def record_request(route: str, status: int, *, cold_start: bool) -> None:
    """Count one request by route and status class, and a cold start when it was one."""
    try:
        line = request_metrics(route, status, cold_start=cold_start)
        sys.stdout.write(line + "\n")
    except Exception:  # a metric must never fail the request it describes
        logger.exception("Could not record request metrics")


def request_metrics(route: str, status: int, *, cold_start: bool) -> str:
    """One request's EMF line: `Requests` by service, route and status class; `ColdStart`.

    The JSON of `{"_aws": {"Timestamp", "CloudWatchMetrics"}, "service", "route",
    "status_class", "Requests"[, "ColdStart"]}`. All but the time is the same for every
    line of a route, status class and kind of start: that text is built once.
    """
    service = os.environ.get(SERVICE_VARIABLE) or DEFAULT_SERVICE
    namespace = get_settings().metrics_namespace
    after_time = _line_after_time(namespace, service, route, status // 100, cold_start)
    return f"{_LINE_START}{int(time.time() * 1000)}{after_time}"


# Routes are templates (a bounded set), times five status classes and two kinds of start.
@lru_cache(maxsize=512)
def _line_after_time(
    namespace: str, service: str, route: str, status_class: int, cold_start: bool
) -> str:
    """The line's text after the time."""
    directives = [_count(namespace, "Requests", ["service", "route", "status_class"])]
    values = ', "Requests": 1'
    if cold_start:
        directives.append(_count(namespace, "ColdStart", ["service"]))
        values += ', "ColdStart": 1'
    return (
        f', "CloudWatchMetrics": {json.dumps(directives)}}}, "service": {json.dumps(service)}, '
        f'"route": {json.dumps(route)}, "status_class": "{status_class}xx"{values}}}'
    )


def _count(namespace: str, metric: str, dimensions: list[str]) -> dict[str, Any]:
    """A directive for one Count metric under one set of dimensions."""
    return {
        "Namespace": namespace,
        "Dimensions": [dimensions],
        "Metrics": [{"Name": metric, "Unit": "Count"}],
    }

"""CloudWatch metrics in embedded metric format, through Powertools for AWS Lambda."""

from __future__ import annotations

import logging

from lambda_app.config import get_settings

logger = logging.getLogger(__name__)


def record_request(route: str, status: int, *, cold_start: bool) -> None:
    """Count one request by route and status class, and a cold start when it was one."""
    namespace = get_settings().metrics_namespace
    try:
        # Deferred: only Lambda invocations emit metrics; local runs never import it.
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        with single_metric(
            name="Requests", unit=MetricUnit.Count, value=1, namespace=namespace
        ) as metric:
            metric.add_dimension(name="route", value=route)
            metric.add_dimension(name="status_class", value=f"{status // 100}xx")
        if cold_start:
            with single_metric(
                name="ColdStart", unit=MetricUnit.Count, value=1, namespace=namespace
            ):
                pass
    except Exception:  # a metric must never fail the request it describes
        logger.exception("Could not record request metrics")

"""The outbox's backlog as CloudWatch metrics: one embedded metric format line per drain.

Written like the request metrics (metrics.py, AWS's EMF specification): CloudWatch Logs
turns the line into metrics, with no API call and no IAM permission. The alarms on
cleanup that falls behind (infra/monitoring.py) read these names.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

from lambda_app.config import get_settings

if TYPE_CHECKING:  # infra/monitoring.py reads the names without loading SQLAlchemy
    from lambda_app.crud.outbox import Backlog

# The dimension that names these metrics, and its one value.
DIMENSION = "service"
SERVICE = "users-outbox"
PENDING = "OutboxPending"
DEAD_LETTERED = "OutboxDeadLettered"
OLDEST_PENDING_AGE = "OutboxOldestPendingAge"


def backlog_metrics(backlog: Backlog) -> str:
    """The EMF line of a backlog: pending and dead-lettered tasks, the oldest pending's age."""
    units = {PENDING: "Count", DEAD_LETTERED: "Count", OLDEST_PENDING_AGE: "Seconds"}
    directive = {
        "Namespace": get_settings().metrics_namespace,
        "Dimensions": [[DIMENSION]],
        "Metrics": [{"Name": name, "Unit": unit} for name, unit in units.items()],
    }
    values = {
        DIMENSION: SERVICE,
        PENDING: backlog.pending,
        DEAD_LETTERED: backlog.dead_lettered,
        OLDEST_PENDING_AGE: round(backlog.oldest_pending_seconds, 3),
    }
    metadata = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]}
    return json.dumps({"_aws": metadata, **values})


def record_backlog(backlog: Backlog) -> None:
    """Write the backlog's EMF line to stdout, which Lambda ships to CloudWatch Logs."""
    sys.stdout.write(backlog_metrics(backlog) + "\n")

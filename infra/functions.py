"""What the API and migration functions share: runtime, log settings, database settings."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.database import Database
from infra.settings import Settings

PYTHON_RUNTIMES = {
    "3.12": lambda_.Runtime.PYTHON_3_12,
    "3.13": lambda_.Runtime.PYTHON_3_13,
    "3.14": lambda_.Runtime.PYTHON_3_14,
}


def python_runtime(version: str) -> lambda_.Runtime:
    """Return the Lambda runtime for a Python version such as "3.14"."""
    return PYTHON_RUNTIMES[version]


def application_log_level(log_level: str) -> lambda_.ApplicationLogLevel:
    """Lambda's JSON log filter, matched to the app's LOG_LEVEL so neither hides the other."""
    name = {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(log_level.upper(), log_level.upper())
    return lambda_.ApplicationLogLevel[name]


def metrics_safe_log_level(log_level: str) -> lambda_.ApplicationLogLevel:
    """Lambda's log filter for a function that writes EMF metrics: never above INFO.

    EMF lines carry no "level" key, so Lambda files them as INFO; a WARN or ERROR filter
    would drop them, and the metrics with them. The app's LOG_LEVEL still filters its
    own log lines, so the filter only needs to let through what the app writes.
    """
    level = application_log_level(log_level)
    verbose = (lambda_.ApplicationLogLevel.TRACE, lambda_.ApplicationLogLevel.DEBUG)
    return level if level in verbose else lambda_.ApplicationLogLevel.INFO


def function_log_group(scope: Construct, construct_id: str, settings: Settings) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=settings.log_retention,
        removal_policy=settings.removal_policy,
    )


def database_environment(database: Database, settings: Settings) -> dict[str, str]:
    """Non-secret settings both functions need to reach PostgreSQL through the proxy."""
    return {
        "DB_SECRET_ARN": database.secret.secret_arn,
        "DB_HOST": database.proxy.endpoint,
        "DB_SSL": "true",
        "LOG_LEVEL": settings.log_level,
    }

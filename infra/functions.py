"""What the API and migration functions share: runtime, log settings, database settings."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.database import Database
from infra.network import Network
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


def bundle_function(
    scope: Construct,
    *,
    description: str,
    handler: str,
    code: lambda_.Code,
    network: Network,
    settings: Settings,
    memory_size: int,
    timeout: Duration,
    environment: dict[str, str],
    log_level: lambda_.ApplicationLogLevel,
    **options: Any,
) -> lambda_.Function:
    """A function of the Lambda bundle: arm64, in the isolated subnets, JSON logs of its own."""
    return lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=python_runtime(settings.python_version),
        architecture=lambda_.Architecture.ARM_64,
        # Old versions go once the alias (or trigger) has moved on; each published
        # SnapStart version is billed for its cached snapshot while it exists.
        current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
        handler=handler,
        code=code,
        memory_size=memory_size,
        timeout=timeout,
        vpc=network.vpc,
        vpc_subnets=network.private_subnets,
        security_groups=[network.function_security_group],
        allow_public_subnet=False,
        environment=environment,
        log_group=function_log_group(scope, "FunctionLogs", settings),
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=log_level,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        **options,
    )

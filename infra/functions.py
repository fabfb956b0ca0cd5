"""What the API and migration functions share: runtime, log settings, database settings."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.database import (
    APP_USERNAME,
    DATABASE_NAME,
    PROXY_IDLE_CLIENT_TIMEOUT,
    Database,
)
from infra.network import POSTGRES_PORT, Network
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


# Read by lambda_app/external_services/tracing.py: trace requests with Powertools' Tracer.
TRACING_ENVIRONMENT = {"TRACING": "true"}


def function_log_group(scope: Construct, construct_id: str, settings: Settings) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=settings.log_retention,
        removal_policy=settings.removal_policy,
    )


# Below the proxy's idle client timeout, so the API replaces its pooled connection before
# the proxy drops it (the app also replaces a dead one on its first statement).
POOL_RECYCLE = PROXY_IDLE_CLIENT_TIMEOUT.minus(Duration.minutes(1))


def api_database_environment(database: Database, settings: Settings) -> dict[str, str]:
    """The API logs in to the proxy as the app role with an IAM token: no secret at all.

    With Aurora, list pages may go to the proxy's read-only endpoint (DB_READER_HOST).
    """
    reader = {"DB_READER_HOST": database.reader_endpoint} if database.reader_endpoint else {}
    return {
        "DB_HOST": database.proxy.endpoint,
        **reader,
        "DB_PORT": str(POSTGRES_PORT),
        "DB_NAME": DATABASE_NAME,
        "DB_USER": APP_USERNAME,
        "DB_IAM_AUTH": "true",
        "DB_SSL": "true",
        "DB_POOL_RECYCLE": str(int(POOL_RECYCLE.to_seconds())),
        "LOG_LEVEL": settings.log_level,
    }


def migration_database_environment(database: Database, settings: Settings) -> dict[str, str]:
    """Migrations connect to the server (Aurora's writer) directly as the master user and
    maintain the app role."""
    return {
        "DB_SECRET_ARN": database.secret.secret_arn,
        "DB_HOST": database.writer_address,
        "DB_SSL": "true",
        "APP_DB_ROLE": APP_USERNAME,
        "APP_DB_SECRET_ARN": database.app_secret.secret_arn,
        "DB_STATEMENT_TIMEOUT_MS": str(settings.db_statement_timeout_ms),
        "LOG_LEVEL": settings.log_level,
        "STAGE": settings.stage,
    }


def bundle_function(
    scope: Construct,
    *,
    description: str,
    handler: str,
    code: lambda_.Code,
    network: Network,
    security_group: ec2.ISecurityGroup,
    settings: Settings,
    memory_size: int,
    timeout: Duration,
    environment: dict[str, str],
    log_level: lambda_.ApplicationLogLevel,
    system_log_level: lambda_.SystemLogLevel = lambda_.SystemLogLevel.WARN,
    **options: Any,
) -> lambda_.Function:
    """A function of the bundle: arm64, isolated subnets, JSON logs of its own, X-Ray traced."""
    function = lambda_.Function(
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
        security_groups=[security_group],
        allow_public_subnet=False,
        environment=environment,
        log_group=function_log_group(scope, "FunctionLogs", settings),
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=log_level,
        system_log_level_v2=system_log_level,
        # Lambda samples invocations and records its own segments (init or restore, invoke);
        # the API adds the app's subsegments (TRACING, below).
        tracing=lambda_.Tracing.ACTIVE,
        **options,
    )
    _acknowledge_tracing_permissions(function)
    return function


def _acknowledge_tracing_permissions(function: lambda_.Function) -> None:
    """Active tracing grants xray:PutTraceSegments and xray:PutTelemetryRecords on "*"."""
    policy = function.role.node.try_find_child("DefaultPolicy") if function.role else None
    assert policy is not None, "active tracing adds a statement to the default policy"
    Validations.of(policy).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]",
            reason="X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
            "permissions (Service Authorization Reference), so active tracing grants them on "
            '"*"; these two write-only actions are the only statement on "*".',
        )
    )

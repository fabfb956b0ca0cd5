"""Migrations: a function that runs Alembic, and a trigger that runs it on deploy."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, triggers
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.database import Database
from infra.functions import (
    application_log_level,
    database_environment,
    function_log_group,
    python_runtime,
)
from infra.network import Network
from infra.settings import Settings

MIGRATE_HANDLER = "lambda_app.migrate.handler"
# Longer than the app's 300 s migration socket timeout, so that one fails first, cleanly.
MIGRATION_TIMEOUT = Duration.minutes(10)


class Migrations(Construct):
    """``alembic upgrade head`` inside the VPC, after the database and proxy exist.

    The trigger runs whenever the function's code or configuration changes, which
    includes every change to ``migrations/``; a raised exception fails the deploy.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        network: Network,
        database: Database,
        settings: Settings,
    ) -> None:
        super().__init__(scope, construct_id)

        self.function = lambda_.Function(
            self,
            "Function",
            description="Users service database migrations (Alembic); see infra/DEPLOY.md",
            runtime=python_runtime(settings.python_version),
            architecture=lambda_.Architecture.ARM_64,
            # Old versions go once the alias (or trigger) has moved on; each published
            # SnapStart version is billed for its cached snapshot while it exists.
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
            handler=MIGRATE_HANDLER,
            code=code,
            memory_size=512,
            timeout=MIGRATION_TIMEOUT,
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[network.function_security_group],
            allow_public_subnet=False,
            environment=database_environment(database, settings),
            log_group=function_log_group(self, "FunctionLogs", settings),
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=application_log_level(settings.log_level),
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
        )
        database.secret.grant_read(self.function)

        self.trigger = triggers.Trigger(
            self,
            "RunOnDeploy",
            handler=self.function,
            # The whole network (endpoint, security-group rules) and the database
            # construct (instance, secret, proxy and its target group) come first.
            execute_after=[network, database],
            execute_on_handler_change=True,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
            timeout=MIGRATION_TIMEOUT,
        )

"""Migrations: a function that runs Alembic, and a trigger that runs it on deploy."""

from __future__ import annotations

from aws_cdk import Duration, triggers
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.database import Database
from infra.functions import application_log_level, bundle_function, database_environment
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

        self.function = bundle_function(
            self,
            description="Users service database migrations (Alembic); see infra/DEPLOY.md",
            handler=MIGRATE_HANDLER,
            code=code,
            network=network,
            settings=settings,
            memory_size=512,
            timeout=MIGRATION_TIMEOUT,
            environment=database_environment(database, settings),
            log_level=application_log_level(settings.log_level),
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

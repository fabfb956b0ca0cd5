"""Migrations: a function that runs Alembic, and a trigger that runs it on deploy."""

from __future__ import annotations

from aws_cdk import Duration, triggers
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.database import Database
from infra.functions import (
    application_log_level,
    bundle_function,
    migration_database_environment,
)
from infra.network import Network
from infra.settings import Settings

MIGRATE_HANDLER = "lambda_app.migrate.handler"
# Longer than the app's 300 s migration socket timeout, so that one fails first, cleanly.
MIGRATION_TIMEOUT = Duration.minutes(10)


class Migrations(Construct):
    """``alembic upgrade head`` inside the VPC, on the instance itself, before the proxy.

    The trigger runs whenever the function's code or configuration changes, which
    includes every change to ``migrations/``; a raised exception fails the deploy. The
    first run creates the app role, so the proxy, which logs in as that role, comes after.
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
            security_group=network.migration_security_group,
            settings=settings,
            memory_size=512,
            timeout=MIGRATION_TIMEOUT,
            environment=migration_database_environment(database, settings),
            log_level=application_log_level(settings.log_level),
        )
        database.secret.grant_read(self.function)
        database.app_secret.grant_read(self.function)
        database.connections.allow_default_port_from(
            network.migration_security_group, "migration function to the database"
        )

        self.trigger = triggers.Trigger(
            self,
            "RunOnDeploy",
            handler=self.function,
            # The whole network (endpoint, security-group rules), the instance and both
            # secrets come first; the proxy comes after (below).
            # The attachment itself, not its rotation schedule, which waits for this run.
            execute_after=[network, database.target, database.app_secret.node.default_child],
            execute_on_handler_change=True,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
            timeout=MIGRATION_TIMEOUT,
        )
        database.proxy.node.add_dependency(self.trigger)
        # The app secret's first rotation logs in as users_app: only after the run creating it.
        database.app_rotation_schedule.node.add_dependency(self.trigger)

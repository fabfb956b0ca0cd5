"""The file sweep: a daily function that removes files of users who no longer exist."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.database import APP_USERNAME, Database
from infra.functions import api_database_environment, application_log_level, bundle_function
from infra.network import Network
from infra.settings import Settings
from infra.storage import Storage

SWEEP_HANDLER = "lambda_app.sweep.handler"
# Longer than a presigned form lives (PRESIGN_EXPIRES_SECONDS, 15 minutes by default).
SWEEP_SCHEDULE = events.Schedule.rate(Duration.days(1))


class Sweeper(Construct):
    """Runs ``lambda_app.sweep`` on a schedule, as the API's database role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        network: Network,
        database: Database,
        storage: Storage,
        settings: Settings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = bundle_function(
            self,
            description="Users service: delete files left by deleted users",
            handler=SWEEP_HANDLER,
            code=code,
            network=network,
            security_group=network.function_security_group,
            settings=settings,
            memory_size=512,
            timeout=Duration.minutes(5),
            environment={
                **api_database_environment(database, settings),
                "S3_BUCKET": storage.bucket.bucket_name,
            },
            log_level=application_log_level(settings.log_level),
        )
        database.proxy.grant_connect(self.function, APP_USERNAME)
        storage.grant_user_files(self.function)
        self.schedule = events.Rule(
            self,
            "Daily",
            description="Sweep the files of deleted users",
            schedule=SWEEP_SCHEDULE,
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )

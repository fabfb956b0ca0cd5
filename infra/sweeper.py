"""The sweeper: a function that drains the outbox every 5 minutes and sweeps files daily; its
operator actions redrive dead letters and reconcile the user pool with the table."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.auth import Auth
from infra.database import APP_USERNAME, Database
from infra.functions import api_database_environment, bundle_function, metrics_safe_log_level
from infra.network import Network
from infra.settings import Settings
from infra.storage import Storage

SWEEP_HANDLER = "lambda_app.sweep.handler"
# Longer than a presigned form lives (PRESIGN_EXPIRES_SECONDS, 15 minutes by default).
SWEEP_SCHEDULE = events.Schedule.rate(Duration.days(1))
# How soon a failed or abandoned outbox task is retried, at the earliest.
DRAIN_SCHEDULE = events.Schedule.rate(Duration.minutes(5))
DRAIN_EVENT = {"action": "drain"}
# At most the outbox's lease (lambda_app/crud/outbox.py, LEASE), which a test checks: a task
# a drain claimed is never claimed again while that drain may still run.
SWEEPER_TIMEOUT = Duration.minutes(5)


class Sweeper(Construct):
    """Runs ``lambda_app.sweep`` on two schedules, as the API's database role."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        network: Network,
        database: Database,
        storage: Storage,
        auth: Auth,
        settings: Settings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = bundle_function(
            self,
            description="Users service: drain the outbox, delete files left by deleted users",
            handler=SWEEP_HANDLER,
            code=code,
            network=network,
            security_group=network.function_security_group,
            settings=settings,
            memory_size=512,
            timeout=SWEEPER_TIMEOUT,
            environment={
                **api_database_environment(database, settings),
                "S3_BUCKET": storage.bucket.bucket_name,
                "COGNITO_USER_POOL_ID": auth.user_pool.user_pool_id,
                "METRICS_NAMESPACE": settings.metrics_namespace,
            },
            # The drain writes the outbox's backlog as EMF lines, which Lambda files as INFO.
            log_level=metrics_safe_log_level(settings.log_level),
        )
        database.proxy.grant_connect(self.function, APP_USERNAME)
        storage.grant_user_files(self.function)
        auth.grant_provisioning(self.function, reconcile=True)
        self.schedule = events.Rule(
            self,
            "Daily",
            description="Sweep the files of deleted users",
            schedule=SWEEP_SCHEDULE,
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        self.drain_schedule = events.Rule(
            self,
            "Drain",
            description="Retry the outbox tasks that are due (files, identities)",
            schedule=DRAIN_SCHEDULE,
            targets=[
                targets.LambdaFunction(
                    self.function,
                    event=events.RuleTargetInput.from_object(DRAIN_EVENT),
                    retry_attempts=2,
                )
            ],
        )

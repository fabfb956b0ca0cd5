"""Monitoring: alarms on the API, the proxy and the database, and the topic they notify.

The outbox's alarms watch the backlog that the sweeper's drain reports every 5 minutes
(lambda_app/external_services/outbox_metrics.py): deleted users' files waiting too long
for S3, or given up on (dead-lettered). A drain that stops reporting counts as behind.

The function's alarms use its unqualified metrics (dimension ``FunctionName`` only),
which Lambda aggregates over every version and alias: they count each invocation
through the ``live`` alias, the only one the API may make, plus any manual invocation.
The app's own EMF metrics (``Requests`` by route and status class, ``ColdStart``) get
no alarm: API Gateway's 5xx already counts every 5xx the app returns, and more (crashes,
timeouts, throttles), so a second alarm would only page twice for one incident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.api import Api
from infra.capacity import connection_budget_for_memory, instance_memory_bytes
from infra.database import Database
from infra.database_aurora import AuroraDatabase
from infra.database_instance import InstanceDatabase
from infra.settings import Settings
from lambda_app.external_services import outbox_metrics

ALARM_PERIOD = Duration.minutes(5)
# RDS Proxy publishes its metrics every minute from each of its nodes; AWS names Sum as the
# statistic that adds the nodes up (infra/DEPLOY.md, "Alarms"). A Maximum over 5 minutes
# would see one node's share only.
PROXY_ALARM_PERIOD = Duration.minutes(1)
# Three drains (every 5 minutes): one late schedule never leaves a period without data.
OUTBOX_PERIOD = Duration.minutes(15)
CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")
RDS_NAMESPACE = "AWS/RDS"
# Share of a limit at which a "near the limit" alarm goes off.
NEAR_LIMIT_PERCENT = 90
# Share of the allocated storage and of the class's memory below which RDS is short.
LOW_RESOURCE_PERCENT = 10


@dataclass(frozen=True)
class Threshold:
    """Alarm when the statistic reaches ``value`` (or falls to it, when ``below``) in
    ``datapoints`` of the last ``periods`` periods (all of them unless given)."""

    value: float
    periods: int = 1
    below: bool = False
    datapoints: int | None = None
    # A period without data counts as reaching the threshold (a source that went silent).
    silence_breaches: bool = False

    @property
    def datapoints_to_alarm(self) -> int:
        return self.periods if self.datapoints is None else self.datapoints


# Errors are what the app could not turn into a response (crash, timeout, out of memory):
# the client got API Gateway's 500/503. One can be a fluke; three in 5 minutes are not.
FUNCTION_ERRORS = Threshold(3)
# Throttled invocations are requests turned away unserved; even one means the function
# hit its reserved concurrency or the account's limit.
FUNCTION_THROTTLES = Threshold(1)
# Every 5xx a client saw, whether the app, the integration or API Gateway produced it.
API_SERVER_ERRORS = Threshold(5)
# The app never pins (its statements leave no session state), so pinned connections in 12
# of 15 minutes are a regression that costs the proxy its multiplexing, not a blip.
SESSION_PINNED = Threshold(1, periods=15, datapoints=12)
# The proxy's connection counts near their limits in 3 of 5 minutes: a trend, not one spike.
PROXY_CONNECTIONS_PERIODS = 5
PROXY_CONNECTIONS_DATAPOINTS = 3
# Sustained high CPU on the instance: slow queries for every request.
DATABASE_CPU_PERCENT = Threshold(80, periods=3)
# Aurora: capacity near auroraMaxAcu for 15 minutes; Serverless v2 cannot grow further.
ACU_UTILIZATION_PERCENT = Threshold(NEAR_LIMIT_PERCENT, periods=3)
# Aurora: the reader a second behind the writer for 15 minutes. Reads stay correct (list
# pages fall back to the writer until the reader has the caller's writes), but they all
# land on the writer: the reader is not helping.
REPLICA_LAG_MS = Threshold(1000, periods=3)
# A task normally finishes in its request, or within minutes of backoff: an hour means S3
# has failed it again and again, or the drain stopped (no report for 15 minutes).
OUTBOX_OLDEST_PENDING_SECONDS = Threshold(3600, silence_breaches=True)
# Any dead-lettered task: files of a deleted user that no retry removes any more.
OUTBOX_DEAD_LETTERED = Threshold(1)


class Monitoring(Construct):
    """CloudWatch alarms on the API and an encrypted SNS topic that hears about them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: Api,
        database: Database,
        settings: Settings,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.key = self._alarm_topic_key()
        self.topic = self._alarm_topic(self.key)
        if settings.alarm_email:
            # SNS emails a confirmation link first; nothing is delivered until it is clicked.
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))

        statistic = cloudwatch.Stats.SUM
        self.function_errors = self._alarm(
            "FunctionErrors",
            name="api-function-errors",
            description="The API function failed invocations (unhandled error, timeout, OOM).",
            metric=api.function.metric_errors(period=ALARM_PERIOD, statistic=statistic),
            threshold=FUNCTION_ERRORS,
        )
        self.function_throttles = self._alarm(
            "FunctionThrottles",
            name="api-function-throttles",
            description="Invocations of the API function were throttled (concurrency limit).",
            metric=api.function.metric_throttles(period=ALARM_PERIOD, statistic=statistic),
            threshold=FUNCTION_THROTTLES,
        )
        self.api_server_errors = self._alarm(
            "ApiServerErrors",
            name="http-api-5xx",
            description="The HTTP API answered with 5xx status codes.",
            metric=api.stage.metric_server_error(period=ALARM_PERIOD, statistic=statistic),
            threshold=API_SERVER_ERRORS,
        )
        self.database_alarms = self._database_alarms(database, settings)
        self.outbox_alarms = self._outbox_alarms(settings)

    @property
    def alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        return (
            self.function_errors,
            self.function_throttles,
            self.api_server_errors,
            *self.database_alarms,
            *self.outbox_alarms,
        )

    def _outbox_alarms(self, settings: Settings) -> tuple[cloudwatch.Alarm, ...]:
        """Cleanup that falls behind: the oldest pending task's age, dead-lettered tasks."""

        def backlog_metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=settings.metrics_namespace,
                metric_name=name,
                dimensions_map={outbox_metrics.DIMENSION: outbox_metrics.SERVICE},
                period=OUTBOX_PERIOD,
                statistic=cloudwatch.Stats.MAXIMUM,
            )

        return (
            self._alarm(
                "OutboxOldestPending",
                name="outbox-oldest-pending",
                description="An outbox task (the files of a deleted user) has waited an hour "
                "or more, or the drain has not reported for 15 minutes.",
                metric=backlog_metric(outbox_metrics.OLDEST_PENDING_AGE),
                threshold=OUTBOX_OLDEST_PENDING_SECONDS,
            ),
            self._alarm(
                "OutboxDeadLettered",
                name="outbox-dead-lettered",
                description="Outbox tasks failed every attempt and are no longer retried: "
                "files of deleted users are still in S3.",
                metric=backlog_metric(outbox_metrics.DEAD_LETTERED),
                threshold=OUTBOX_DEAD_LETTERED,
            ),
        )

    def _database_alarms(
        self, database: Database, settings: Settings
    ) -> tuple[cloudwatch.Alarm, ...]:
        """The proxy's pinning and connection limits, then the server's own alarms."""
        proxy_name = database.proxy.db_proxy_name

        def proxy_metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=RDS_NAMESPACE,
                metric_name=name,
                dimensions_map={"ProxyName": proxy_name},
                period=PROXY_ALARM_PERIOD,
                statistic=cloudwatch.Stats.SUM,
            )

        # Each API execution environment holds one client connection: the connections
        # the API may use are its reserved concurrency, or what the class supports.
        client_budget = settings.reserved_concurrency or connection_budget_for_memory(
            settings.database_memory_bytes
        )
        if isinstance(database, AuroraDatabase):
            server_alarms = self._aurora_alarms(database)
        else:
            assert isinstance(database, InstanceDatabase)
            server_alarms = self._instance_alarms(database, settings)
        return (
            self._alarm(
                "ProxySessionPinned",
                name="proxy-session-pinned",
                description="RDS Proxy holds pinned database connections (session state "
                "left by a client: SET, prepared statements, advisory locks, temp tables).",
                metric=proxy_metric("DatabaseConnectionsCurrentlySessionPinned"),
                threshold=SESSION_PINNED,
            ),
            self._alarm(
                "ProxyClientConnections",
                name="proxy-client-connections",
                description=f"Client connections to RDS Proxy near the {client_budget} the "
                "API may hold (one per execution environment).",
                metric=proxy_metric("ClientConnections"),
                threshold=Threshold(
                    math.ceil(client_budget * NEAR_LIMIT_PERCENT / 100),
                    periods=PROXY_CONNECTIONS_PERIODS,
                    datapoints=PROXY_CONNECTIONS_DATAPOINTS,
                ),
            ),
            self._alarm(
                "ProxyDatabaseConnections",
                name="proxy-database-connections",
                description="RDS Proxy's database connections near the most it may open "
                "(MaxDatabaseConnectionsAllowed): requests start to wait for one.",
                metric=cloudwatch.MathExpression(
                    expression="100 * used / allowed",
                    using_metrics={
                        "used": proxy_metric("DatabaseConnections"),
                        "allowed": proxy_metric("MaxDatabaseConnectionsAllowed"),
                    },
                    label="DatabaseConnections (% of allowed)",
                    period=PROXY_ALARM_PERIOD,
                ),
                threshold=Threshold(
                    NEAR_LIMIT_PERCENT,
                    periods=PROXY_CONNECTIONS_PERIODS,
                    datapoints=PROXY_CONNECTIONS_DATAPOINTS,
                ),
            ),
            *server_alarms,
        )

    def _instance_alarms(
        self, database: InstanceDatabase, settings: Settings
    ) -> tuple[cloudwatch.Alarm, ...]:
        """The instance's CPU, storage and memory."""
        instance = database.instance
        storage_bytes = settings.db_allocated_storage_gib * 1024**3
        memory_bytes = instance_memory_bytes(settings.db_instance_type)
        return (
            self._alarm(
                "DatabaseCpu",
                name="database-cpu",
                description="The database instance's CPU has been high for 15 minutes.",
                metric=instance.metric_cpu_utilization(
                    period=ALARM_PERIOD, statistic=cloudwatch.Stats.AVERAGE
                ),
                threshold=DATABASE_CPU_PERCENT,
            ),
            self._alarm(
                "DatabaseFreeStorage",
                name="database-free-storage",
                description=f"Less than {LOW_RESOURCE_PERCENT}% of the allocated storage is "
                "free (storage autoscaling may be at its maximum).",
                metric=instance.metric_free_storage_space(
                    period=ALARM_PERIOD, statistic=cloudwatch.Stats.MINIMUM
                ),
                threshold=Threshold(storage_bytes * LOW_RESOURCE_PERCENT // 100, below=True),
            ),
            self._alarm(
                "DatabaseFreeableMemory",
                name="database-freeable-memory",
                description=f"Less than {LOW_RESOURCE_PERCENT}% of the instance class's "
                "memory is free for 15 minutes.",
                metric=instance.metric_freeable_memory(
                    period=ALARM_PERIOD, statistic=cloudwatch.Stats.MINIMUM
                ),
                threshold=Threshold(
                    memory_bytes * LOW_RESOURCE_PERCENT // 100, periods=3, below=True
                ),
            ),
        )

    def _aurora_alarms(self, database: AuroraDatabase) -> tuple[cloudwatch.Alarm, ...]:
        """The cluster's CPU, its capacity against auroraMaxAcu, and the reader's lag."""
        cluster = database.cluster
        replica_lag = cloudwatch.Metric(
            namespace=RDS_NAMESPACE,
            metric_name="AuroraReplicaLagMaximum",
            dimensions_map={"DBClusterIdentifier": cluster.cluster_identifier},
            period=ALARM_PERIOD,
            statistic=cloudwatch.Stats.MAXIMUM,
        )
        return (
            self._alarm(
                "DatabaseCpu",
                name="database-cpu",
                description="The Aurora cluster's CPU has been high for 15 minutes.",
                metric=cluster.metric_cpu_utilization(
                    period=ALARM_PERIOD, statistic=cloudwatch.Stats.AVERAGE
                ),
                threshold=DATABASE_CPU_PERCENT,
            ),
            self._alarm(
                "DatabaseAcuUtilization",
                name="database-acu-utilization",
                description="Aurora Serverless v2 capacity has been near its maximum "
                "(auroraMaxAcu) for 15 minutes.",
                metric=cluster.metric_acu_utilization(
                    period=ALARM_PERIOD, statistic=cloudwatch.Stats.AVERAGE
                ),
                threshold=ACU_UTILIZATION_PERCENT,
            ),
            self._alarm(
                "DatabaseReplicaLag",
                name="database-replica-lag",
                description="The Aurora reader has been a second or more behind the writer "
                "for 15 minutes: list pages fall back to the writer.",
                metric=replica_lag,
                threshold=REPLICA_LAG_MS,
            ),
        )

    def _alarm_topic_key(self) -> kms.Key:
        # CloudWatch cannot use the AWS-managed aws/sns key, so the topic gets its own
        # key whose policy lets CloudWatch encrypt the messages it publishes.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the {self._settings.prefix} alarm notifications topic",
            enable_key_rotation=True,
            removal_policy=self._settings.removal_policy,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsEncrypt",
                principals=[CLOUDWATCH],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        return key

    def _alarm_topic(self, key: kms.Key) -> sns.Topic:
        topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"{self._settings.prefix}-alarms",
            display_name=f"Users service ({self._settings.stage}) alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # enforce_ssl writes a topic policy, which replaces SNS's default one (the owner
        # account may publish), so CloudWatch alarms of this account are allowed here.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[CLOUDWATCH],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:"
                        f"{Aws.ACCOUNT_ID}:alarm:*"
                    },
                },
            )
        )
        return topic

    def _alarm(
        self,
        construct_id: str,
        *,
        name: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: Threshold,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._settings.prefix}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold.value,
            evaluation_periods=threshold.periods,
            datapoints_to_alarm=threshold.datapoints_to_alarm,
            comparison_operator=(
                cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD
                if threshold.below
                else cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
            # No traffic means no data points, which is not a failure, unless the source
            # reports on a schedule (then silence is the failure).
            treat_missing_data=(
                cloudwatch.TreatMissingData.BREACHING
                if threshold.silence_breaches
                else cloudwatch.TreatMissingData.NOT_BREACHING
            ),
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm

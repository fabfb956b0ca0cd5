"""Monitoring: alarms on the API function and the HTTP API, and the topic they notify.

The function's alarms use its unqualified metrics (dimension ``FunctionName`` only),
which Lambda aggregates over every version and alias: they count each invocation
through the ``live`` alias, the only one the API may make, plus any manual invocation.
The app's own EMF metrics (``Requests`` by route and status class, ``ColdStart``) get
no alarm: API Gateway's 5xx already counts every 5xx the app returns, and more (crashes,
timeouts, throttles), so a second alarm would only page twice for one incident.
"""

from __future__ import annotations

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
from infra.settings import Settings

ALARM_PERIOD = Duration.minutes(5)
CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")


@dataclass(frozen=True)
class Threshold:
    """Alarm when the sum reaches ``at_least`` in ``periods`` consecutive periods."""

    at_least: int
    periods: int = 1


# Errors are what the app could not turn into a response (crash, timeout, out of memory):
# the client got API Gateway's 500/503. One can be a fluke; three in 5 minutes are not.
FUNCTION_ERRORS = Threshold(at_least=3)
# Throttled invocations are requests turned away unserved; even one means the function
# hit its reserved concurrency or the account's limit.
FUNCTION_THROTTLES = Threshold(at_least=1)
# Every 5xx a client saw, whether the app, the integration or API Gateway produced it.
API_SERVER_ERRORS = Threshold(at_least=5)


class Monitoring(Construct):
    """CloudWatch alarms on the API and an encrypted SNS topic that hears about them."""

    def __init__(
        self, scope: Construct, construct_id: str, *, api: Api, settings: Settings
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

    @property
    def alarms(self) -> tuple[cloudwatch.Alarm, ...]:
        return (self.function_errors, self.function_throttles, self.api_server_errors)

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
        metric: cloudwatch.Metric,
        threshold: Threshold,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._settings.prefix}-{name}",
            alarm_description=description,
            metric=metric,
            threshold=threshold.at_least,
            evaluation_periods=threshold.periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No traffic means no data points, which is not a failure.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm

"""Monitoring: alarms on the API function and the HTTP API, and their encrypted topic."""

from __future__ import annotations

from typing import Any

from infra.capacity import GIB, connection_budget
from lambda_app.external_services import outbox_metrics
from tests.infra.conftest import ALARM_EMAIL, Synthesized


def _alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def _topic_ref(synth: Synthesized) -> dict[str, str]:
    return {"Ref": synth.logical_id(synth.stack.monitoring.topic)}


def test_alarms_cover_function_errors_throttles_and_api_5xx(dev: Synthesized) -> None:
    function = {"Name": "FunctionName", "Value": {"Ref": dev.logical_id(dev.stack.api.function)}}
    api_stage = [
        {"Name": "ApiId", "Value": {"Ref": dev.logical_id(dev.stack.api.http_api)}},
        {"Name": "Stage", "Value": "$default"},
    ]
    expected = {
        "users-dev-api-function-errors": ("AWS/Lambda", "Errors", [function], 3),
        "users-dev-api-function-throttles": ("AWS/Lambda", "Throttles", [function], 1),
        "users-dev-http-api-5xx": ("AWS/ApiGateway", "5xx", api_stage, 5),
    }
    alarms = _alarms(dev)
    assert set(expected) <= set(alarms)
    for name, (namespace, metric, dimensions, threshold) in expected.items():
        alarm = alarms[name]
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric), name
        assert alarm["Dimensions"] == dimensions, name
        assert alarm["Threshold"] == threshold, name
        assert alarm["Statistic"] == "Sum", name
        assert alarm["Period"] == 300, name
        assert alarm["EvaluationPeriods"] == 1, name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name


def test_proxy_and_database_alarms_watch_pinning_connections_cpu_storage_memory(
    dev: Synthesized,
) -> None:
    proxy = {"Name": "ProxyName", "Value": {"Ref": dev.logical_id(dev.stack.database.proxy)}}
    instance = {
        "Name": "DBInstanceIdentifier",
        "Value": {"Ref": dev.logical_id(dev.stack.database.instance)},
    }
    budget = connection_budget("t4g.micro")
    # name: (metric, dimensions, statistic, threshold, (datapoints, periods), seconds, comparison)
    expected = {
        "users-dev-proxy-session-pinned": (
            "DatabaseConnectionsCurrentlySessionPinned",
            proxy,
            "Sum",
            1,
            (12, 15),
            60,
            "GreaterThanOrEqualToThreshold",
        ),
        "users-dev-proxy-client-connections": (
            "ClientConnections",
            proxy,
            "Sum",
            -(-budget * 9 // 10),
            (3, 5),
            60,
            "GreaterThanOrEqualToThreshold",
        ),
        "users-dev-database-cpu": (
            "CPUUtilization",
            instance,
            "Average",
            80,
            (3, 3),
            300,
            "GreaterThanOrEqualToThreshold",
        ),
        "users-dev-database-free-storage": (
            "FreeStorageSpace",
            instance,
            "Minimum",
            2 * GIB,
            (1, 1),
            300,
            "LessThanOrEqualToThreshold",
        ),
        "users-dev-database-freeable-memory": (
            "FreeableMemory",
            instance,
            "Minimum",
            GIB // 10,
            (3, 3),
            300,
            "LessThanOrEqualToThreshold",
        ),
    }
    alarms = _alarms(dev)
    for name, expectation in expected.items():
        metric, dimension, statistic, threshold, (datapoints, periods), seconds, comparison = (
            expectation
        )
        alarm = alarms[name]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/RDS", metric), name
        assert alarm["Dimensions"] == [dimension], name
        assert alarm["Statistic"] == statistic, name
        assert alarm["Threshold"] == threshold, name
        assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (datapoints, periods)
        assert alarm["ComparisonOperator"] == comparison, name
        assert alarm["Period"] == seconds, name


def test_proxy_database_connections_alarm_compares_with_what_the_proxy_may_open(
    dev: Synthesized,
) -> None:
    alarm = _alarms(dev)["users-dev-proxy-database-connections"]
    assert alarm["Threshold"] == 90
    assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (3, 5)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    assert queries["expr_1"]["Expression"] == "100 * used / allowed"
    proxy = [{"Name": "ProxyName", "Value": {"Ref": dev.logical_id(dev.stack.database.proxy)}}]
    for query_id, metric_name in (
        ("used", "DatabaseConnections"),
        ("allowed", "MaxDatabaseConnectionsAllowed"),
    ):
        stat = queries[query_id]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": "AWS/RDS",
            "MetricName": metric_name,
            "Dimensions": proxy,
        }
        # Per node, every minute: only the sum over the proxy's nodes is the proxy's count.
        assert (stat["Stat"], stat["Period"]) == ("Sum", 60)
        assert queries[query_id]["ReturnData"] is False


def test_prod_client_connection_alarm_follows_its_reserved_concurrency(prod: Synthesized) -> None:
    assert _alarms(prod)["users-prod-proxy-client-connections"]["Threshold"] == 18  # 90% of 20


def test_function_alarms_watch_every_invocation_not_one_version(dev: Synthesized) -> None:
    # FunctionName alone aggregates all versions and aliases, so a deploy that moves the
    # alias to a new version keeps the same alarm series.
    for name, alarm in _alarms(dev).items():
        if alarm.get("Namespace") == "AWS/Lambda":
            assert [d["Name"] for d in alarm["Dimensions"]] == ["FunctionName"], name


def test_no_traffic_does_not_raise_an_alarm(dev: Synthesized) -> None:
    # Except a drain that stops reporting: it reports every 5 minutes, traffic or not.
    silence_alarms = {"users-dev-outbox-oldest-pending"}
    for name, alarm in _alarms(dev).items():
        expected = "breaching" if name in silence_alarms else "notBreaching"
        assert alarm["TreatMissingData"] == expected, name


def test_outbox_alarms_watch_the_backlog_the_drain_reports(dev: Synthesized) -> None:
    # name: (metric, threshold); both the maximum over 15 minutes (three drains)
    expected = {
        "users-dev-outbox-oldest-pending": (outbox_metrics.OLDEST_PENDING_AGE, 3600),
        "users-dev-outbox-dead-lettered": (outbox_metrics.DEAD_LETTERED, 1),
    }
    alarms = _alarms(dev)
    for name, (metric, threshold) in expected.items():
        alarm = alarms[name]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("UsersService-dev", metric), name
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "users-outbox"}], name
        assert (alarm["Statistic"], alarm["Period"]) == ("Maximum", 900), name
        assert alarm["Threshold"] == threshold, name
        assert alarm["EvaluationPeriods"] == 1, name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name


def test_the_drain_reports_in_the_namespace_and_dimension_the_alarms_watch(
    dev: Synthesized, capsys: Any
) -> None:
    from lambda_app.crud.outbox import Backlog
    from tests.conftest import settings_env
    from tests.test_metrics import extracted

    function_id = dev.logical_id(dev.stack.sweeper.function)
    function = dev.resources("AWS::Lambda::Function")[function_id]["Properties"]
    namespace = function["Environment"]["Variables"]["METRICS_NAMESPACE"]
    with settings_env(METRICS_NAMESPACE=namespace):
        reported = extracted(outbox_metrics.backlog_metrics(Backlog(0, 1, 7.0)))

    for name, alarm in _alarms(dev).items():
        if alarm.get("Namespace") == namespace and name.startswith("users-dev-outbox-"):
            dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            assert (namespace, alarm["MetricName"]) in reported, name
            reported_dimensions = dict(reported[(namespace, alarm["MetricName"])])
            reported_dimensions.pop("value")
            assert reported_dimensions == dimensions, name


def test_alarms_notify_the_topic_when_raised_and_when_cleared(dev: Synthesized) -> None:
    for name, alarm in _alarms(dev).items():
        assert alarm["AlarmActions"] == [_topic_ref(dev)], name
        assert alarm["OKActions"] == [_topic_ref(dev)], name


def test_topic_exists_without_an_email_and_has_no_subscription(dev: Synthesized) -> None:
    assert dev.stack.monitoring.topic is not None
    dev.template.resource_count_is("AWS::SNS::Topic", 1)
    dev.template.resource_count_is("AWS::SNS::Subscription", 0)
    assert dev.template.to_json()["Outputs"]["AlarmTopicArn"]["Value"] == _topic_ref(dev)


def test_alarm_email_subscribes_to_the_topic(prod: Synthesized) -> None:
    (subscription,) = prod.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "Endpoint": ALARM_EMAIL,
        "Protocol": "email",
        "TopicArn": _topic_ref(prod),
    }


def test_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use(dev: Synthesized) -> None:
    (topic,) = dev.resources("AWS::SNS::Topic").values()
    key_id = dev.logical_id(dev.stack.monitoring.key)
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = dev.template.to_json()["Resources"][key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        statement
        for statement in key["KeyPolicy"]["Statement"]
        if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(cloudwatch) == 1
    assert sorted(cloudwatch[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


def test_topic_refuses_plain_http_and_admits_only_this_accounts_alarms(
    dev: Synthesized,
) -> None:
    (policy,) = dev.resources("AWS::SNS::TopicPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    deny = statements["AllowPublishThroughSSLOnly"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    publish = statements["CloudWatchAlarmsPublish"]
    assert publish["Effect"] == "Allow"
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == _topic_ref(dev)
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert ":alarm:*" in str(publish["Condition"]["ArnLike"]["aws:SourceArn"])


def test_alarms_and_topic_are_named_by_stage(prod: Synthesized) -> None:
    assert all(name.startswith("users-prod-") for name in _alarms(prod))
    (topic,) = prod.resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["TopicName"] == "users-prod-alarms"

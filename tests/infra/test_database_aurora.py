"""-c database=aurora: Aurora PostgreSQL, Serverless v2, a writer and a reader, the same proxy."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App

from infra.database import ENGINE_MAJOR_VERSION
from infra.settings import DEFAULT_AURORA_MAX_ACU, DEFAULT_AURORA_MIN_ACU, Settings
from tests.infra.conftest import PROD_AVAILABILITY_ZONES, Synthesized, cdk_json_context


def _one(synth: Synthesized, resource_type: str) -> dict[str, Any]:
    (resource,) = synth.resources(resource_type).values()
    return dict(resource["Properties"])


def _function_environment(synth: Synthesized, function: Any) -> dict[str, Any]:
    resource = synth.template.to_json()["Resources"][synth.logical_id(function)]
    return dict(resource["Properties"]["Environment"]["Variables"])


def test_the_cluster_is_aurora_postgresql_serverless_v2_encrypted_tls_only(
    aurora_dev: Synthesized,
) -> None:
    cluster = _one(aurora_dev, "AWS::RDS::DBCluster")
    assert cluster["Engine"] == "aurora-postgresql"
    assert cluster["EngineVersion"].split(".")[0] == ENGINE_MAJOR_VERSION
    assert cluster["StorageEncrypted"] is True
    assert cluster["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": DEFAULT_AURORA_MIN_ACU,
        "MaxCapacity": DEFAULT_AURORA_MAX_ACU,
    }
    assert cluster["EnableCloudwatchLogsExports"] == ["postgresql"]
    parameters = _one(aurora_dev, "AWS::RDS::DBClusterParameterGroup")
    assert parameters["Family"] == f"aurora-postgresql{ENGINE_MAJOR_VERSION}"
    assert parameters["Parameters"] == {"rds.force_ssl": "1"}


def test_a_writer_and_a_reader_in_another_zone_both_serverless(aurora_prod: Synthesized) -> None:
    instances = [
        resource["Properties"]
        for resource in aurora_prod.resources("AWS::RDS::DBInstance").values()
    ]
    assert sorted(instance["PromotionTier"] for instance in instances) == [0, 1]
    assert {instance["DBInstanceClass"] for instance in instances} == {"db.serverless"}
    assert {instance["AvailabilityZone"] for instance in instances} == set(PROD_AVAILABILITY_ZONES)
    assert {instance["CACertificateIdentifier"] for instance in instances} == {"rds-ca-rsa2048-g1"}
    assert all(instance["PubliclyAccessible"] is False for instance in instances)
    cluster = _one(aurora_prod, "AWS::RDS::DBCluster")
    assert cluster["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 1, "MaxCapacity": 16}
    assert cluster["DeletionProtection"] is True


def test_the_proxy_fronts_the_cluster_with_tls_iam_and_a_read_only_endpoint(
    aurora_dev: Synthesized,
) -> None:
    database = aurora_dev.stack.database
    proxy = _one(aurora_dev, "AWS::RDS::DBProxy")
    assert proxy["RequireTLS"] is True
    (auth,) = proxy["Auth"]
    assert auth["IAMAuth"] == "REQUIRED"
    assert auth["SecretArn"] == {"Ref": aurora_dev.logical_id(database.app_secret)}
    targets = _one(aurora_dev, "AWS::RDS::DBProxyTargetGroup")
    assert targets["DBClusterIdentifiers"] == [{"Ref": aurora_dev.logical_id(database.target)}]
    endpoint = _one(aurora_dev, "AWS::RDS::DBProxyEndpoint")
    assert endpoint["TargetRole"] == "READ_ONLY"
    assert endpoint["DBProxyName"] == {"Ref": aurora_dev.logical_id(database.proxy)}
    assert endpoint["DBProxyEndpointName"] == "users-dev-reader"


def test_the_api_reads_from_the_reader_endpoint_and_migrations_write_to_the_writer(
    aurora_dev: Synthesized, dev: Synthesized
) -> None:
    stack = aurora_dev.stack
    api = _function_environment(aurora_dev, stack.api.function)
    endpoint_id = next(iter(aurora_dev.resources("AWS::RDS::DBProxyEndpoint")))
    assert api["DB_READER_HOST"] == {"Fn::GetAtt": [endpoint_id, "Endpoint"]}
    assert api["DB_IAM_AUTH"] == "true"
    migration = _function_environment(aurora_dev, stack.migrations.function)
    cluster_id = aurora_dev.logical_id(stack.database.target)
    assert migration["DB_HOST"] == {"Fn::GetAtt": [cluster_id, "Endpoint.Address"]}
    assert migration["DB_SSL"] == "true"
    # The single instance has no reader: the API reads everything from the proxy's default.
    assert "DB_READER_HOST" not in _function_environment(dev, dev.stack.api.function)


def test_the_migration_runs_after_the_cluster_and_before_the_proxy(aurora_dev: Synthesized) -> None:
    trigger = aurora_dev.template.to_json()["Resources"][trigger_id(aurora_dev)]
    assert aurora_dev.logical_id(aurora_dev.stack.database.target) in trigger["DependsOn"]
    for resource_type in ("AWS::RDS::DBProxy", "AWS::RDS::DBProxyTargetGroup"):
        (resource,) = aurora_dev.resources(resource_type).values()
        assert trigger_id(aurora_dev) in resource["DependsOn"], resource_type


def trigger_id(synth: Synthesized) -> str:
    return synth.logical_id(synth.stack.migrations.trigger.node.default_child)


def test_both_secrets_rotate_on_the_cluster(aurora_dev: Synthesized) -> None:
    schedules = aurora_dev.resources("AWS::SecretsManager::RotationSchedule")
    assert len(schedules) == 2
    attachments = aurora_dev.resources("AWS::SecretsManager::SecretTargetAttachment")
    app_secret = aurora_dev.logical_id(aurora_dev.stack.database.app_secret)
    assert app_secret in attachments
    for attachment in attachments.values():
        assert attachment["Properties"]["TargetType"] == "AWS::RDS::DBCluster"


def test_replica_lag_and_capacity_are_alarmed_and_drawn(aurora_dev: Synthesized) -> None:
    alarms = {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in aurora_dev.resources("AWS::CloudWatch::Alarm").values()
    }
    lag = alarms["users-dev-database-replica-lag"]
    assert (lag["Namespace"], lag["MetricName"]) == ("AWS/RDS", "AuroraReplicaLagMaximum")
    cluster = {"Ref": aurora_dev.logical_id(aurora_dev.stack.database.target)}
    assert lag["Dimensions"] == [{"Name": "DBClusterIdentifier", "Value": cluster}]
    acu = alarms["users-dev-database-acu-utilization"]
    assert acu["MetricName"] == "ACUUtilization"
    assert acu["Threshold"] == 90
    # The instance's storage and memory alarms mean nothing for a cluster.
    assert "users-dev-database-free-storage" not in alarms
    dashboard = str(_one(aurora_dev, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for title in ("Aurora replica lag", "Aurora capacity"):
        assert title in dashboard


def _settings(**context: str) -> Settings:
    return Settings.from_context(App(context={**cdk_json_context(), **context}).node)


def test_the_default_stays_the_single_instance() -> None:
    assert _settings().database == "instance"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"auroraMinAcu": "0"}, "auto-pause, which never happens behind RDS Proxy"),
        ({"auroraMaxAcu": "300"}, "'auroraMaxAcu' must be a multiple of 0.5 from 0.5 to 256"),
        ({"auroraMinAcu": "0.75"}, "'auroraMinAcu' must be a multiple of 0.5"),
        ({"auroraMinAcu": "8", "auroraMaxAcu": "4"}, "is above 'auroraMaxAcu'"),
        ({"database": "dynamo"}, "context 'database' must be one of"),
    ],
)
def test_capacity_the_cluster_cannot_take_is_refused_naming_the_setting(
    context: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        _settings(**{"database": "aurora", **context})


def test_the_connection_budget_follows_the_maximum_capacity() -> None:
    small = _settings(database="aurora", auroraMaxAcu="1", reservedConcurrency="auto")
    large = _settings(database="aurora", auroraMaxAcu="8", reservedConcurrency="auto")
    assert small.reserved_concurrency is not None
    assert large.reserved_concurrency is not None
    assert large.reserved_concurrency > small.reserved_concurrency

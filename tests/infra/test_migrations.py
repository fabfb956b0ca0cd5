"""Migrations: a second function from the same bundle, run by a trigger after the database."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synthesized
from tests.infra.test_tracing import XRAY_ACTIONS


def _resource(synth: Synthesized, construct: Any) -> dict[str, Any]:
    resource: dict[str, Any] = synth.template.to_json()["Resources"][synth.logical_id(construct)]
    return resource


def test_migration_function_shares_the_bundle_and_network(dev: Synthesized) -> None:
    migration = _resource(dev, dev.stack.migrations.function)["Properties"]
    api = _resource(dev, dev.stack.api.function)["Properties"]
    assert migration["Handler"] == "lambda_app.migrate.handler"
    assert migration["Code"] == api["Code"]
    assert migration["Runtime"] == api["Runtime"]
    assert migration["Architectures"] == ["arm64"]
    assert migration["VpcConfig"]["SubnetIds"] == api["VpcConfig"]["SubnetIds"]
    assert migration["VpcConfig"]["SecurityGroupIds"] == [
        {"Fn::GetAtt": [dev.logical_id(dev.stack.network.migration_security_group), "GroupId"]}
    ]
    assert migration["Timeout"] == 600
    assert migration["LoggingConfig"]["LogFormat"] == "JSON"
    assert "SnapStart" not in migration


def test_migration_function_connects_to_the_instance_as_master_and_maintains_the_app_role(
    dev: Synthesized,
) -> None:
    database = dev.stack.database
    variables = _resource(dev, dev.stack.migrations.function)["Properties"]["Environment"][
        "Variables"
    ]
    assert set(variables) == {
        "DB_SECRET_ARN",
        "DB_HOST",
        "DB_SSL",
        "APP_DB_ROLE",
        "APP_DB_SECRET_ARN",
        "DB_STATEMENT_TIMEOUT_MS",
        "LOG_LEVEL",
        "STAGE",
    }
    # The instance itself, not the proxy: the proxy holds only the app role's secret.
    assert variables["DB_HOST"] == {
        "Fn::GetAtt": [dev.logical_id(database.instance), "Endpoint.Address"]
    }
    assert variables["DB_SECRET_ARN"] == {"Ref": dev.logical_id(database.secret)}
    assert variables["APP_DB_SECRET_ARN"] == {"Ref": dev.logical_id(database.app_secret)}
    assert variables["APP_DB_ROLE"] == "users_app"
    assert variables["DB_SSL"] == "true"
    assert variables["DB_STATEMENT_TIMEOUT_MS"] == "4000"
    assert variables["STAGE"] == "dev"  # prod refuses a downgrade to base unless confirmed


def test_migration_function_reads_both_database_secrets_and_no_bucket(dev: Synthesized) -> None:
    database = dev.stack.database
    role_id = dev.logical_id(dev.stack.migrations.function.role)
    statements = [
        statement
        for policy in dev.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        # Active tracing's X-Ray statement, on "*" (tests/infra/test_tracing.py).
        if statement["Action"] != XRAY_ACTIONS
    ]
    actions = {a for s in statements for a in _list(s["Action"])}
    assert not any(action.startswith("s3:") for action in actions)
    resources = [resource for s in statements for resource in _list(s["Resource"])]
    assert sorted(map(str, resources)) == sorted(
        str({"Ref": dev.logical_id(secret)}) for secret in (database.secret, database.app_secret)
    )
    for statement in statements:
        assert set(_list(statement["Action"])) == {
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
        }


def test_trigger_runs_the_current_version_synchronously(dev: Synthesized) -> None:
    (trigger,) = dev.resources("Custom::Trigger").values()
    properties = trigger["Properties"]
    assert properties["InvocationType"] == "RequestResponse"
    # The version is replaced whenever code or configuration change, which re-runs the trigger.
    handler = properties["HandlerArn"]
    assert handler == {"Ref": dev.logical_id(dev.stack.migrations.function.current_version)}


def test_trigger_runs_after_the_instance_its_secrets_and_the_network(dev: Synthesized) -> None:
    (trigger,) = dev.resources("Custom::Trigger").values()
    depends_on = set(trigger["DependsOn"])
    database = dev.stack.database
    network = dev.stack.network
    required = {
        dev.logical_id(database.instance),
        dev.logical_id(database.instance.node.find_child("Secret")),
        dev.logical_id(database.app_secret),
        dev.logical_id(network.secrets_manager_endpoint),
        dev.logical_id(network.migration_security_group),
    }
    assert required <= depends_on
    # The proxy logs in as the app role, which the first migration creates: it comes after.
    assert dev.logical_id(database.proxy) not in depends_on


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]

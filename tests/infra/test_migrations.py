"""Migrations: a second function from the same bundle, run by a trigger after the database."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synthesized


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
    assert migration["VpcConfig"] == api["VpcConfig"]
    assert migration["Timeout"] == 600
    assert migration["LoggingConfig"]["LogFormat"] == "JSON"
    assert "SnapStart" not in migration


def test_migration_function_gets_database_settings_but_no_bucket(dev: Synthesized) -> None:
    variables = _resource(dev, dev.stack.migrations.function)["Properties"]["Environment"][
        "Variables"
    ]
    assert set(variables) == {"DB_SECRET_ARN", "DB_HOST", "DB_SSL", "LOG_LEVEL"}
    assert variables["DB_HOST"] == {
        "Fn::GetAtt": [dev.logical_id(dev.stack.database.proxy), "Endpoint"]
    }
    role_id = dev.logical_id(dev.stack.migrations.function.role)
    for policy in dev.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            actions = {a for s in statements for a in _list(s["Action"])}
            assert not any(action.startswith("s3:") for action in actions)
            resources = [s["Resource"] for s in statements]
            assert resources == [{"Ref": dev.logical_id(dev.stack.database.secret)}]


def test_trigger_runs_the_current_version_synchronously(dev: Synthesized) -> None:
    (trigger,) = dev.resources("Custom::Trigger").values()
    properties = trigger["Properties"]
    assert properties["InvocationType"] == "RequestResponse"
    # The version is replaced whenever code or configuration change, which re-runs the trigger.
    handler = properties["HandlerArn"]
    assert handler == {"Ref": dev.logical_id(dev.stack.migrations.function.current_version)}


def test_trigger_runs_after_database_proxy_and_network(dev: Synthesized) -> None:
    (trigger,) = dev.resources("Custom::Trigger").values()
    depends_on = set(trigger["DependsOn"])
    database = dev.stack.database
    network = dev.stack.network
    required = {
        dev.logical_id(database.instance),
        dev.logical_id(database.proxy),
        dev.logical_id(database.proxy.node.find_child("ProxyTargetGroup")),
        dev.logical_id(database.instance.node.find_child("Secret")),
        dev.logical_id(network.secrets_manager_endpoint),
        dev.logical_id(network.function_security_group),
    }
    assert required <= depends_on


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]

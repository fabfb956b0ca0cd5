"""X-Ray: active tracing on both functions, TRACING for the app, and what IAM that adds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Validations

from infra.functions import TRACING_ENVIRONMENT
from lambda_app.external_services import tracing
from tests.infra.conftest import Synthesized, synthesize

XRAY_ACTIONS = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]


def _function(synth: Synthesized, construct: Any) -> dict[str, Any]:
    properties: dict[str, Any] = synth.template.to_json()["Resources"][synth.logical_id(construct)][
        "Properties"
    ]
    return properties


def test_both_functions_trace_actively(dev: Synthesized, prod: Synthesized) -> None:
    for synth in (dev, prod):
        for function in (synth.stack.api.function, synth.stack.migrations.function):
            assert _function(synth, function)["TracingConfig"] == {"Mode": "Active"}


def test_the_api_turns_the_apps_tracer_on_with_the_variable_the_app_reads(
    dev: Synthesized,
) -> None:
    assert set(TRACING_ENVIRONMENT) == {tracing.TRACING_VARIABLE}
    environment = _function(dev, dev.stack.api.function)["Environment"]["Variables"]
    assert environment[tracing.TRACING_VARIABLE] == "true"
    migrations = _function(dev, dev.stack.migrations.function)["Environment"]["Variables"]
    assert tracing.TRACING_VARIABLE not in migrations


def test_the_api_logs_lambdas_platform_reports_for_cold_start_durations(
    dev: Synthesized,
) -> None:
    logging = _function(dev, dev.stack.api.function)["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["SystemLogLevel"] == "INFO"
    migrations = _function(dev, dev.stack.migrations.function)["LoggingConfig"]
    assert migrations["SystemLogLevel"] == "WARN"


def test_the_only_statements_on_every_resource_are_x_rays_two_write_actions(
    dev: Synthesized,
) -> None:
    roles = {
        dev.logical_id(function.role)
        for function in (
            dev.stack.api.function,
            dev.stack.migrations.function,
            dev.stack.sweeper.function,
        )
        if function.role is not None
    }
    wildcard: dict[str, list[Any]] = {}
    for logical_id, policy in dev.resources("AWS::IAM::Policy").items():
        attached = {role["Ref"] for role in policy["Properties"].get("Roles", [])}
        if not attached & roles:
            continue
        wildcard[logical_id] = [
            statement
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Resource"] == "*"
        ]
    assert len(wildcard) == 3  # the API, migration and sweep functions
    for statements in wildcard.values():
        assert statements == [{"Action": XRAY_ACTIONS, "Effect": "Allow", "Resource": "*"}]


def test_the_x_ray_wildcard_is_acknowledged_on_each_functions_policy_only(
    dev: Synthesized,
) -> None:
    acknowledged = {
        construct.node.path
        for construct in dev.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        and any(rule.endswith("AwsSolutions-IAM5[Resource::*]") for rule in entry.data)
    }
    assert acknowledged == {
        f"{function.role.node.path}/DefaultPolicy"
        for function in (
            dev.stack.api.function,
            dev.stack.migrations.function,
            dev.stack.sweeper.function,
        )
        if function.role is not None
    }


def test_a_stage_may_drop_the_platform_reports_to_save_log_bytes(tmp_path: Path) -> None:
    quiet = synthesize(
        tmp_path, stage="dev", systemLogLevel="warn", **{"aws:cdk:bundling-stacks": []}
    )
    logging = _function(quiet, quiet.stack.api.function)["LoggingConfig"]
    assert logging["SystemLogLevel"] == "WARN"

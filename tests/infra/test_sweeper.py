"""The sweeper: its two schedules, its only invoker, and what it may reach."""

from __future__ import annotations

from typing import Any

from lambda_app.crud.outbox import LEASE
from tests.infra.conftest import Synthesized


def _rules(synth: Synthesized) -> list[dict[str, Any]]:
    function_id = synth.logical_id(synth.stack.sweeper.function)
    return [
        rule["Properties"]
        for rule in synth.resources("AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]


def test_the_sweep_runs_daily_as_the_api_role_of_the_database(dev: Synthesized) -> None:
    function_id = dev.logical_id(dev.stack.sweeper.function)
    function = dev.resources("AWS::Lambda::Function")[function_id]["Properties"]
    (daily,) = (rule for rule in _rules(dev) if rule["ScheduleExpression"] == "rate(1 day)")
    permissions = [
        p["Properties"]
        for p in dev.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    ]

    assert function["Handler"] == "lambda_app.sweep.handler"
    assert "Input" not in daily["Targets"][0]  # a scheduled event without an action sweeps
    assert {p["Principal"] for p in permissions} == {"events.amazonaws.com"}
    environment = function["Environment"]["Variables"]
    assert environment["DB_IAM_AUTH"] == "true"
    assert environment["DB_USER"] == "users_app"
    assert "DB_SECRET_ARN" not in environment
    assert "S3_BUCKET" in environment


def test_the_outbox_is_drained_every_5_minutes(dev: Synthesized) -> None:
    (drain,) = (rule for rule in _rules(dev) if rule["ScheduleExpression"] == "rate(5 minutes)")

    assert drain["Targets"][0]["Input"] == '{"action":"drain"}'


def test_a_drain_ends_before_the_lease_on_the_tasks_it_claimed(dev: Synthesized) -> None:
    function_id = dev.logical_id(dev.stack.sweeper.function)
    function = dev.resources("AWS::Lambda::Function")[function_id]["Properties"]

    assert function["Timeout"] <= LEASE.total_seconds()


def test_the_drains_metrics_survive_lambdas_log_filter(prod: Synthesized) -> None:
    # prod runs at LOG_LEVEL WARNING; EMF lines carry no level and are filed as INFO.
    function_id = prod.logical_id(prod.stack.sweeper.function)
    function = prod.resources("AWS::Lambda::Function")[function_id]["Properties"]

    assert function["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    assert function["Environment"]["Variables"]["METRICS_NAMESPACE"] == "UsersService-prod"

"""The daily file sweep: its schedule, its only invoker, and what it may reach."""

from __future__ import annotations

from tests.infra.conftest import Synthesized


def test_the_sweep_runs_daily_as_the_api_role_of_the_database(dev: Synthesized) -> None:
    function_id = dev.logical_id(dev.stack.sweeper.function)
    function = dev.resources("AWS::Lambda::Function")[function_id]["Properties"]
    (rule,) = (
        r["Properties"]
        for r in dev.resources("AWS::Events::Rule").values()
        if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    )
    (permission,) = (
        p["Properties"]
        for p in dev.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    )

    assert function["Handler"] == "lambda_app.sweep.handler"
    assert rule["ScheduleExpression"] == "rate(1 day)"
    assert permission["Principal"] == "events.amazonaws.com"
    environment = function["Environment"]["Variables"]
    assert environment["DB_IAM_AUTH"] == "true"
    assert environment["DB_USER"] == "users_app"
    assert "DB_SECRET_ARN" not in environment
    assert "S3_BUCKET" in environment

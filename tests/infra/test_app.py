"""The entry point cdk.json runs, and the context knobs it reads."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App

from infra.bundling import PROJECT_ROOT
from infra.capacity import connection_budget
from infra.functions import application_log_level, metrics_safe_log_level
from infra.settings import DEFAULT_ALLOWED_ORIGINS, DEFAULT_AVAILABILITY_ZONES, Settings
from tests.infra.conftest import cdk_json_context


def test_cdk_json_app_synthesises_without_aws_credentials_or_docker(tmp_path: Path) -> None:
    command = shlex.split(json.loads((PROJECT_ROOT / "cdk.json").read_text())["app"])
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "CDK_")) and key != "DOCKER_HOST"
    }
    environment.update(
        CDK_OUTDIR=str(tmp_path),
        CDK_CONTEXT_JSON=json.dumps(
            {**cdk_json_context(), "stage": "prod", "allowedOrigins": "https://app.example.com"}
        ),
        DOCKER_HOST="unix:///nonexistent/docker.sock",
    )
    subprocess.run(command, cwd=PROJECT_ROOT, env=environment, check=True, timeout=300)
    template = json.loads((tmp_path / "UsersService-prod.template.json").read_text())
    assert "Custom::Trigger" in {r["Type"] for r in template["Resources"].values()}


def test_settings_defaults_for_dev() -> None:
    settings = Settings.from_context(App().node)
    assert settings.stage == "dev"
    assert settings.python_version == "3.13"
    assert settings.reserved_concurrency is None
    assert settings.availability_zones == DEFAULT_AVAILABILITY_ZONES == ("a", "b")
    assert settings.allowed_origins == DEFAULT_ALLOWED_ORIGINS
    assert settings.db_multi_az is False
    assert settings.self_sign_up is False
    assert settings.api_docs is True
    assert settings.alarm_email is None
    assert settings.metrics_namespace == "UsersService-dev"


def test_settings_read_strings_from_the_command_line() -> None:
    app = App(
        context={
            "stage": "prod",
            "allowedOrigins": "https://a.example, https://b.example",
            "reservedConcurrency": "50",
            "dbMultiAz": "false",
            "alarmEmail": " oncall@example.com ",
            "availabilityZones": "eu-west-1a, eu-west-1c",
        }
    )
    settings = Settings.from_context(app.node)
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.availability_zones == ("eu-west-1a", "eu-west-1c")
    assert settings.reserved_concurrency == 50
    assert settings.db_multi_az is False
    assert settings.backup_retention_days == 7
    assert settings.api_docs is False
    assert settings.alarm_email == "oncall@example.com"
    assert settings.metrics_namespace == "UsersService-prod"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stage", "staging"),
        ("pythonVersion", "3.11"),
        ("logRetentionDays", "8"),
        ("alarmEmail", "oncall"),
        ("alarmEmail", "on call@example.com"),
        ("availabilityZones", "a"),
        ("availabilityZones", "a,a"),
        ("reservedConcurrency", "0"),
        ("systemLogLevel", "DEBUG"),
        ("reservedConcurrency", "-5"),
        ("reservedConcurrency", "many"),
        ("dbInstanceType", "x9.huge"),
    ],
)
def test_settings_reject_unknown_values(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        Settings.from_context(App(context={key: value}).node)


def test_reserved_concurrency_is_unset_unless_asked_and_auto_follows_the_class() -> None:
    for stage in ("dev", "prod"):
        context = {"stage": stage, "allowedOrigins": "https://app.example.com"}
        assert Settings.from_context(App(context=context).node).reserved_concurrency is None
    auto = {"dbInstanceType": "t4g.medium", "reservedConcurrency": "auto"}
    larger = Settings.from_context(App(context=auto).node)
    assert larger.reserved_concurrency == connection_budget("t4g.medium")
    assert larger.reserved_concurrency > connection_budget("t4g.micro")
    unset = Settings.from_context(App(context={"reservedConcurrency": "none"}).node)
    assert unset.reserved_concurrency is None


def test_prod_refuses_to_synthesize_without_its_own_browser_origins() -> None:
    with pytest.raises(ValueError, match=r"allowedOrigins.*prod"):
        Settings.from_context(App(context={"stage": "prod"}).node)
    with pytest.raises(ValueError, match="allowedOrigins"):
        Settings.from_context(App(context={"stage": "prod", "allowedOrigins": " , "}).node)
    dev = Settings.from_context(App(context={"stage": "dev"}).node)
    assert dev.allowed_origins == DEFAULT_ALLOWED_ORIGINS


@pytest.mark.parametrize(
    ("log_level", "expected"), [("debug", "DEBUG"), ("WARNING", "WARN"), ("CRITICAL", "FATAL")]
)
def test_lambda_log_filter_follows_the_app_log_level(log_level: str, expected: str) -> None:
    assert application_log_level(log_level).value == expected


@pytest.mark.parametrize(
    ("log_level", "expected"),
    [("DEBUG", "DEBUG"), ("INFO", "INFO"), ("WARNING", "INFO"), ("ERROR", "INFO")],
)
def test_a_function_writing_metrics_never_filters_above_info(log_level: str, expected: str) -> None:
    # EMF lines have no "level"; Lambda treats them as INFO.
    assert metrics_safe_log_level(log_level).value == expected

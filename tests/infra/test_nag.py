"""cdk-nag AwsSolutions: it runs on every synth, and every accepted finding says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Validations

from infra import nag
from tests.infra.conftest import Synthesized, synthesize


def _acknowledgments(synth: Synthesized) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for construct in synth.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    found[(construct.node.path, rule)] = reason
    return found


def test_synth_reports_no_unacknowledged_finding(dev: Synthesized, prod: Synthesized) -> None:
    for synth in (dev, prod):
        report = json.loads((synth.outdir / "validation-report.json").read_text())
        _assert_clean(report)


def _assert_clean(report: dict[str, Any]) -> None:
    """No plugin failed or found anything left unacknowledged (CDK's own suppressions,
    such as named zones in prod, are reported as suppressed, with their reason)."""
    for plugin in report["pluginReports"]:
        assert plugin["conclusion"] == "success", plugin["pluginName"]
        assert plugin["violations"] == [], plugin["pluginName"]
        for suppressed in plugin.get("suppressedViolations", []):
            assert suppressed["reason"], suppressed["ruleName"]


def test_each_acknowledged_nag_rule_names_a_resource_and_a_real_reason(dev: Synthesized) -> None:
    ours = {
        key: reason for key, reason in _acknowledgments(dev).items() if "AwsSolutions" in key[1]
    }
    rules = {rule.split("::", 1)[1].split("[")[0] for _, rule in ours}
    assert rules == {
        "AwsSolutions-RDS3",
        "AwsSolutions-RDS10",
        "AwsSolutions-RDS11",
        "AwsSolutions-IAM4",
        "AwsSolutions-IAM5",
        "AwsSolutions-S1",
        "AwsSolutions-APIG4",
        "AwsSolutions-L1",
        "AwsSolutions-COG2",
        "AwsSolutions-COG8",
    }
    for (path, rule), reason in ours.items():
        assert path != dev.stack.node.path, f"{rule} is acknowledged stack-wide"
        assert len(reason) >= 50, f"{rule} on {path} needs a real reason"


def test_only_public_routes_and_preflights_are_exempt_from_api_authorization(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth in (dev, prod):
        exempt = {path for path, rule in _acknowledgments(synth) if "APIG4" in rule}
        routes = [*synth.stack.api.public_routes.values(), synth.stack.api.preflight_route]
        assert exempt == {route.node.path for route in routes}
    assert set(prod.stack.api.public_routes) == {"/health"}


def test_the_latest_runtime_rule_is_acknowledged_only_below_python_3_14(
    dev: Synthesized, tmp_path: Path
) -> None:
    assert {path for path, rule in _acknowledgments(dev) if "AwsSolutions-L1" in rule} == {
        dev.stack.api.function.node.path,
        dev.stack.migrations.function.node.path,
        dev.stack.sweeper.function.node.path,
    }
    newest = synthesize(
        tmp_path, stage="dev", pythonVersion="3.14", **{"aws:cdk:bundling-stacks": []}
    )
    assert not any("AwsSolutions-L1" in rule for _, rule in _acknowledgments(newest))
    report = json.loads((tmp_path / "validation-report.json").read_text())
    _assert_clean(report)


def test_prod_keeps_the_multi_az_and_deletion_protection_rules(prod: Synthesized) -> None:
    rules = {rule for _, rule in _acknowledgments(prod)}
    assert not any("RDS3" in rule or "RDS10" in rule for rule in rules)


def test_an_unacknowledged_finding_fails_the_synth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nag, "_acknowledge", lambda *_args: None)
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        synthesize(tmp_path, stage="dev", **{"aws:cdk:bundling-stacks": []})
    assert "AwsSolutions-RDS11" in str(failure.value)
    assert "AwsSolutions-APIG4" in str(failure.value)
    assert "AwsSolutions-COG2" in str(failure.value)

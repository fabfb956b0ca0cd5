"""The dashboard (one per stage, named in the outputs), its widgets, and the saved queries."""

from __future__ import annotations

import json
import re
from typing import Any

from infra import dashboard
from infra.bundling import PROJECT_ROOT
from tests.infra.conftest import Synthesized

SAVED_QUERIES = (
    dashboard.REQUESTS_BY_ROUTE,
    dashboard.SERVER_ERRORS,
    dashboard.FAILED_INVOCATIONS,
    dashboard.COLD_STARTS,
    dashboard.GATEWAY_ERRORS,
    dashboard.DATABASE_ERRORS,
)


def _dashboard(synth: Synthesized) -> tuple[dict[str, Any], list[Any]]:
    """The dashboard's properties and its body, tokens replaced by ``@@<index>@@``."""
    (resource,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = resource["Properties"]["DashboardBody"]
    tokens: list[Any] = []
    text = ""
    for part in body["Fn::Join"][1]:
        if isinstance(part, str):
            text += part
        else:
            text += f"@@{len(tokens)}@@"
            tokens.append(part)
    return {"properties": resource["Properties"], "body": json.loads(text)}, tokens


def _widgets(synth: Synthesized) -> dict[str, dict[str, Any]]:
    parsed, _ = _dashboard(synth)
    return {w["properties"]["title"]: w for w in parsed["body"]["widgets"]}


def _metrics(widget: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(namespace, metric name, statistic) of each plain metric a graph draws."""
    found = []
    for entry in widget["properties"].get("metrics", []):
        if isinstance(entry[-1], dict) and "expression" in entry[-1]:
            continue
        options = entry[-1] if isinstance(entry[-1], dict) else {}
        found.append((entry[0], entry[1], options.get("stat", "")))
    return found


def _expressions(widget: dict[str, Any]) -> list[str]:
    return [
        entry[-1]["expression"]
        for entry in widget["properties"].get("metrics", [])
        if isinstance(entry[-1], dict) and "expression" in entry[-1]
    ]


def test_one_dashboard_per_stage_named_in_the_outputs(dev: Synthesized, prod: Synthesized) -> None:
    for synth, stage in ((dev, "dev"), (prod, "prod")):
        (logical_id,) = synth.resources("AWS::CloudWatch::Dashboard")
        parsed, _ = _dashboard(synth)
        assert parsed["properties"]["DashboardName"] == f"users-{stage}-service"
        output = synth.template.to_json()["Outputs"]["DashboardName"]
        assert output["Value"] == {"Ref": logical_id}


def test_http_api_traffic_error_rates_and_latency_percentiles(dev: Synthesized) -> None:
    widgets = _widgets(dev)
    assert ("AWS/ApiGateway", "Count", "Sum") in _metrics(widgets["HTTP API requests per minute"])
    rates = widgets["HTTP API 4xx and 5xx rates (%)"]
    assert {name for _, name, _ in _metrics(rates)} == {"Count", "4xx", "5xx"}
    assert sorted(_expressions(rates)) == ["100 * e4xx / requests", "100 * e5xx / requests"]
    latency = _metrics(widgets["HTTP API latency (ms)"])
    assert {stat for _, name, stat in latency if name == "Latency"} == {"p50", "p95", "p99"}
    assert ("AWS/ApiGateway", "IntegrationLatency", "p99") in latency


def test_app_metrics_by_route_search_the_stage_namespace(dev: Synthesized) -> None:
    widgets = _widgets(dev)
    for title, status_class in (
        ("4xx per minute by route (app)", "4xx"),
        ("5xx per minute by route (app)", "5xx"),
    ):
        (expression,) = _expressions(widgets[title])
        assert "{UsersService-dev,route,service,status_class}" in expression
        assert f'status_class="{status_class}"' in expression
    (everything,) = _expressions(widgets["Requests per minute by route and status (app)"])
    assert 'MetricName="Requests"' in everything
    assert "status_class=" not in everything


def test_latency_by_route_and_cold_starts_read_the_function_log_group(dev: Synthesized) -> None:
    parsed, tokens = _dashboard(dev)
    function_logs = dev.logical_id(dev.stack.api.function.log_group)
    logs = [w for w in parsed["body"]["widgets"] if w["type"] == "log"]
    assert {w["properties"]["title"] for w in logs} == {
        "Latency by route and status: p50/p95/p99 ms (request log)",
        "Cold starts: restore + init duration, ms (platform reports)",
    }
    for widget in logs:
        (source,) = re.findall(r"@@(\d+)@@", widget["properties"]["query"].split("|")[0])
        assert tokens[int(source)] == {"Ref": function_logs}
    queries = " ".join(w["properties"]["query"] for w in logs)
    for percentile in (50, 95, 99):
        assert f"pct(duration_ms, {percentile})" in queries
    assert "record.metrics.restoreDurationMs" in queries
    assert "record.metrics.initDurationMs" in queries


def test_function_duration_concurrency_throttles_and_cold_starts(dev: Synthesized) -> None:
    widgets = _widgets(dev)
    duration = _metrics(widgets["Lambda duration (ms)"])
    assert {stat for _, name, stat in duration if name == "Duration"} == {
        "p50",
        "p95",
        "p99",
        "Maximum",
    }
    concurrency = _metrics(widgets["Lambda concurrency and cold starts"])
    assert ("AWS/Lambda", "ConcurrentExecutions", "Maximum") in concurrency
    assert ("UsersService-dev", "ColdStart", "") in [(n, m, "") for n, m, _ in concurrency]
    errors = _metrics(widgets["Lambda errors and throttles (5-minute sums)"])
    assert {name for _, name, _ in errors} == {"Errors", "Throttles"}


def test_proxy_and_database_widgets_draw_their_metrics(dev: Synthesized) -> None:
    widgets = _widgets(dev)
    expected = {
        "RDS Proxy client connections": {"ClientConnections"},
        "RDS Proxy database connections (% of allowed)": {
            "DatabaseConnections",
            "MaxDatabaseConnectionsAllowed",
        },
        "RDS Proxy session-pinned connections": {"DatabaseConnectionsCurrentlySessionPinned"},
        "RDS CPU (%)": {"CPUUtilization"},
        "RDS freeable memory (bytes)": {"FreeableMemory"},
        "RDS free storage (bytes)": {"FreeStorageSpace"},
    }
    for title, names in expected.items():
        metrics = _metrics(widgets[title])
        assert {namespace for namespace, _, _ in metrics} == {"AWS/RDS"}, title
        assert {name for _, name, _ in metrics} == names, title


def test_every_alarm_is_on_the_dashboard_with_its_threshold(dev: Synthesized) -> None:
    parsed, tokens = _dashboard(dev)
    alarms = dev.stack.monitoring.alarms
    (status,) = [w for w in parsed["body"]["widgets"] if w["type"] == "alarm"]
    listed = [tokens[int(i)] for i in re.findall(r"@@(\d+)@@", json.dumps(status))]
    assert {json.dumps(t, sort_keys=True) for t in listed} == {
        json.dumps({"Fn::GetAtt": [dev.logical_id(alarm), "Arn"]}, sort_keys=True)
        for alarm in alarms
    }
    thresholds = {
        annotation["value"]
        for widget in parsed["body"]["widgets"]
        for annotation in widget["properties"].get("annotations", {}).get("horizontal", [])
    }
    resources = dev.template.to_json()["Resources"]
    for alarm in alarms:
        assert resources[dev.logical_id(alarm)]["Properties"]["Threshold"] in thresholds


def test_saved_queries_are_named_by_stage_and_read_the_right_log_groups(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth, stage in ((dev, "dev"), (prod, "prod")):
        api, database = synth.stack.api, synth.stack.database
        groups = {
            "function": {"Ref": synth.logical_id(api.function.log_group)},
            "access": {"Ref": synth.logical_id(api.node.find_child("AccessLogs"))},
            "database": {"Ref": synth.logical_id(database.node.find_child("PostgresqlLogs"))},
        }
        expected = {
            f"users-{stage}/{query.name}": (query.query, groups[group])
            for query, group in zip(
                SAVED_QUERIES,
                ("function", "function", "function", "function", "access", "database"),
                strict=True,
            )
        }
        saved = {
            query["Name"]: (query["QueryString"], query["LogGroupNames"])
            for query in (
                resource["Properties"]
                for resource in synth.resources("AWS::Logs::QueryDefinition").values()
            )
        }
        assert set(saved) == set(expected)
        for name, (query, group) in expected.items():
            assert saved[name] == (query, [group]), name


def test_the_runbook_names_every_alarm_saved_query_and_the_dashboard(dev: Synthesized) -> None:
    deploy = (PROJECT_ROOT / "infra" / "DEPLOY.md").read_text()
    runbook = deploy.split("### Runbook", 1)[1].split("\n### ", 1)[0]
    resources = dev.template.to_json()["Resources"]
    for alarm in dev.stack.monitoring.alarms:
        name = resources[dev.logical_id(alarm)]["Properties"]["AlarmName"]
        assert f"`{name.replace('users-dev-', 'users-<stage>-')}`" in runbook, name
    for query in SAVED_QUERIES:
        assert f"`users-<stage>/{query.name}`" in runbook, query.name
    assert "`users-<stage>-service`" in runbook


def test_the_outbox_row_draws_the_backlog_the_drain_reports(dev: Synthesized) -> None:
    widgets = _widgets(dev)
    expected = {
        "Outbox: oldest pending task (seconds)": "OutboxOldestPendingAge",
        "Outbox: pending tasks": "OutboxPending",
        "Outbox: dead-lettered tasks": "OutboxDeadLettered",
    }
    for title, name in expected.items():
        assert _metrics(widgets[title]) == [("UsersService-dev", name, "Maximum")], title

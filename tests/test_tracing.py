"""X-Ray tracing: nothing loaded when off; route, statements and S3 calls traced when on.

Each case runs the Lambda entry point in a fresh Python process, as Lambda would: what a
process imported, and the X-Ray SDK's process-wide patches, stay out of the other tests.
The traced case uses the SDK's own recorder and Lambda context (the trace header in
`_X_AMZN_TRACE_ID`) with an emitter that keeps the segments instead of sending them.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lambda_app.external_services import tracing
from tests.conftest import ROOT, TEST_BUCKET, settings_env
from tests.test_handler import lambda_context, load_event

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
CHILD_TIMEOUT_SECONDS = 120

# Serves the events in argv[1] through lambda_app.handler.handler (moto S3 when asked),
# then prints the statuses, the entities the recorder emitted and the modules loaded.
CHILD = """
import json, sys
from types import SimpleNamespace

events = json.load(open(sys.argv[1]))
context = SimpleNamespace(**json.load(open(sys.argv[2])))
context.get_remaining_time_in_millis = lambda: 29_000
emitted = []
if sys.argv[3] == "hide-sdk":
    sys.modules["aws_xray_sdk"] = None  # as in a bundle built without it
if sys.argv[3] == "record":
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.core.lambda_launcher import LambdaContext

    class KeepEntities:
        def send_entity(self, entity):
            emitted.append(json.loads(entity.serialize()))

        def set_daemon_address(self, address):
            pass

    xray_recorder.configure(emitter=KeepEntities(), context=LambdaContext(), sampling=False)
statuses = []
if sys.argv[4]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=sys.argv[4])
        import lambda_app.handler as entry

        statuses = [entry.handler(event, context)["statusCode"] for event in events]
else:
    import lambda_app.handler as entry

    statuses = [entry.handler(event, context)["statusCode"] for event in events]
from lambda_app.external_services import tracing

print(json.dumps({
    "statuses": statuses,
    "emitted": emitted,
    "modules": sorted(sys.modules),
    "tracer_created": tracing._tracer is not None,
    "handler_is_serve": entry.handler is entry.serve,
}))
"""


def _run_entry_point(
    tmp_path: Path,
    events: list[dict[str, Any]],
    *,
    environment: dict[str, str],
    mode: str = "",
    bucket: str = "",
) -> dict[str, Any]:
    events_file, context_file = tmp_path / "events.json", tmp_path / "context.json"
    events_file.write_text(json.dumps(events))
    context = lambda_context()
    context_file.write_text(json.dumps({k: v for k, v in vars(context).items() if not callable(v)}))
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(events_file),
            str(context_file),
            mode,
            bucket,
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _lambda_like_environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """This process's environment (database, auth, fake AWS keys) as Lambda would add to it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    environment.pop(tracing.TRACING_VARIABLE, None)
    environment.update({"LAMBDA_TASK_ROOT": str(tmp_path), **variables})
    return environment


def _get_event(path: str) -> dict[str, Any]:
    event = copy.deepcopy(load_event("http_api_create_user.json"))
    event.update({"rawPath": path, "body": None})
    event["headers"].pop("content-type")
    event["headers"].pop("content-length")
    event["requestContext"]["http"].update({"method": "GET", "path": path})
    return event


def _all_subsegments(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending = list(entities)
    while pending:
        entity = pending.pop()
        found.append(entity)
        pending.extend(entity.get("subsegments", []))
    return sorted(found, key=lambda entity: float(entity["start_time"]))


@pytest.mark.parametrize("value", [None, "false", "0", "off", "no"])
def test_tracing_is_off_unless_the_variable_turns_it_on(value: str | None) -> None:
    with settings_env(**{tracing.TRACING_VARIABLE: value}):
        assert tracing.tracing_enabled() is False


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "on", "yes"])
def test_tracing_is_on_when_the_variable_says_so(value: str) -> None:
    with settings_env(**{tracing.TRACING_VARIABLE: value}):
        assert tracing.tracing_enabled() is True


def test_serving_with_tracing_off_loads_no_x_ray_sdk_and_wraps_nothing(tmp_path: Path) -> None:
    environment = _lambda_like_environment(tmp_path, _X_AMZN_TRACE_ID=TRACE_HEADER)
    for name in ("DATABASE_URL", "S3_BUCKET"):
        environment.pop(name, None)

    result = _run_entry_point(
        tmp_path,
        [load_event("http_api_unknown_route.json")],
        environment=environment,
    )

    assert result["statuses"] == [404]
    loaded = set(result["modules"])
    # Powertools' own tracing module comes with its metrics; the SDK it drives does not.
    assert not {"aws_xray_sdk", "wrapt"} & loaded
    assert result["tracer_created"] is False
    assert result["handler_is_serve"] is True


def test_traced_requests_carry_the_route_and_their_statement_and_s3_subsegments(
    tmp_path: Path, admin: dict[str, Any]
) -> None:
    environment = _lambda_like_environment(
        tmp_path,
        **{tracing.TRACING_VARIABLE: "true", "_X_AMZN_TRACE_ID": TRACE_HEADER},
    )
    user_path = f"/users/{admin['id']}"

    result = _run_entry_point(
        tmp_path,
        [_get_event(user_path), _get_event(f"{user_path}/avatar")],
        environment=environment,
        mode="record",
        bucket=TEST_BUCKET,
    )

    assert result["statuses"] == [200, 404]  # the admin exists and has no avatar
    assert result["tracer_created"] is True
    subsegments = _all_subsegments(result["emitted"])
    handlers = [s for s in subsegments if s["name"] == "## serve"]
    assert [h["annotations"]["route"] for h in handlers] == [
        "/users/{user_id}",
        "/users/{user_id}/avatar",
    ]
    assert [h["annotations"]["status"] for h in handlers] == [200, 404]
    assert {h["annotations"]["method"] for h in handlers} == {"GET"}
    assert [h["annotations"]["ColdStart"] for h in handlers] == [True, False]

    statements = [s for s in subsegments if s["name"] == tracing.DATABASE_SUBSEGMENT]
    assert statements, "no statement subsegment"
    assert {s["namespace"] for s in statements} == {"remote"}
    queries = [s["sql"]["sanitized_query"] for s in statements]
    assert any("FROM users" in query for query in queries), queries
    # Bound values never reach the trace; the statements carry placeholders only.
    assert not any(admin["id"] in query or admin["email"] in query for query in queries)

    s3_calls = [s for s in subsegments if s["name"] == "s3"]
    assert [call["aws"]["operation"] for call in s3_calls] == ["ListObjectsV2"]
    assert {call["namespace"] for call in s3_calls} == {"aws"}
    # Every subsegment was closed: none is still in progress when the request ends.
    assert not [s["name"] for s in subsegments if s.get("in_progress")]


def test_tracing_on_without_the_x_ray_sdk_serves_untraced(tmp_path: Path) -> None:
    environment = _lambda_like_environment(tmp_path, **{tracing.TRACING_VARIABLE: "true"})
    for name in ("DATABASE_URL", "S3_BUCKET"):
        environment.pop(name, None)

    result = _run_entry_point(
        tmp_path,
        [load_event("http_api_unknown_route.json")],
        environment=environment,
        mode="hide-sdk",
    )

    assert result["statuses"] == [404]
    assert result["tracer_created"] is False
    assert result["handler_is_serve"] is True

"""The GitHub workflows run the README's commands, on the Lambda runtime's Python, pinned."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings import DEFAULT_PYTHON_VERSION

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
# Commands that belong in the Makefile: a workflow that runs them has copied a target.
COPIED_COMMANDS = ("pytest", "ruff", "mypy", "cdk ", "npm ci", "pip install", "local.smoke")
PINNED = re.compile(r"uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40}) # v\d+\.\d+\.\d+$")


def _load(name: str) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job.get("steps", []) if "run" in step]


def _make_commands(job: dict[str, Any]) -> list[str]:
    return [
        line.strip()
        for run in _runs(job)
        for line in run.splitlines()
        if line.strip().startswith("make ")
    ]


def test_readme_and_ci_script_name_the_commands_the_workflows_run() -> None:
    readme = (ROOT / "README.md").read_text()
    for command in ("make test", "make deploy", "make smoke"):
        assert f"`{command}" in readme or f"{command} " in readme, command
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


def test_ci_runs_make_test_on_every_push_and_pull_request() -> None:
    ci = _load("ci.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(ci["on"])
    assert ci["on"]["push"] is None  # every branch
    (job,) = ci["jobs"].values()
    assert _make_commands(job)[0] == "make test"


def test_deploy_runs_make_test_then_preflight_then_deploy_then_smoke() -> None:
    deploy = _load("deploy.yml")
    assert deploy["on"]["push"] == {"branches": ["main"]}
    assert deploy["on"]["workflow_dispatch"]["inputs"]["ref"]["required"] is True
    jobs = deploy["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    assert jobs["deploy"]["needs"] == "test"
    commands = _make_commands(jobs["deploy"])
    assert [command.split()[1] for command in commands] == ["preflight", "deploy", "smoke"]
    assert commands[0] == 'make preflight STAGE="$STAGE" ORIGINS="$ORIGINS"'
    assert commands[1].startswith('make deploy STAGE="$STAGE" ORIGINS="$ORIGINS"')
    assert commands[2].startswith("make smoke URL=")
    assert jobs["deploy"]["env"]["ORIGINS"] == "${{ vars.ALLOWED_ORIGINS }}"


def test_make_deploy_runs_the_preflight_first() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (deploy,) = re.findall(r"^deploy: (.*?) ##", makefile, re.MULTILINE)
    assert deploy.split()[0] == "preflight"
    (recipe,) = re.findall(r"^preflight: .*\n\t(.*)$", makefile, re.MULTILINE)
    assert recipe == "$(BIN)/python -m infra.preflight $(CDK_ARGS)"


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflows_copy_no_makefile_command(name: str) -> None:
    for job in _load(name)["jobs"].values():
        for run in _runs(job):
            copied = [command for command in COPIED_COMMANDS if command in run]
            assert copied == [], f"{name} runs {copied} itself; call the make target"


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflows_use_the_lambda_runtimes_python(name: str) -> None:
    versions = [
        step["with"]["python-version"]
        for job in _load(name)["jobs"].values()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("actions/setup-python@")
    ]
    assert versions == [DEFAULT_PYTHON_VERSION]


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_every_action_is_pinned_by_commit_with_its_version(name: str) -> None:
    lines = [
        line.strip().removeprefix("- ") for line in (WORKFLOWS / name).read_text().splitlines()
    ]
    uses = [line for line in lines if line.startswith("uses: ") and "/workflows/" not in line]
    assert uses
    for line in uses:
        assert PINNED.match(line), line


def test_deploy_signs_in_through_oidc_with_the_role_from_a_variable() -> None:
    deploy = _load("deploy.yml")
    job = deploy["jobs"]["deploy"]
    assert deploy["permissions"] == {}
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    (credentials,) = [
        step
        for step in job["steps"]
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "aws-access-key-id" not in text
    assert "aws-secret-access-key" not in text


def test_dev_deploys_on_push_and_prod_only_by_hand_in_its_environment() -> None:
    job = _load("deploy.yml")["jobs"]["deploy"]
    stage = "${{ github.event_name == 'workflow_dispatch' && 'prod' || 'dev' }}"
    assert job["environment"] == stage
    assert job["env"]["STAGE"] == stage

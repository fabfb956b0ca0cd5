"""The GitHub deploy role: trusted by this repository's environments only, and least privilege."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.github_deploy_role import STACK_ID, GitHubDeployRoleStack
from tests.infra.conftest import cdk_json_context

REPOSITORY = "example-org/users-service"
EXISTING_PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def _synth(outdir: Path, **context: Any) -> tuple[GitHubDeployRoleStack, Template]:
    app = build_app(
        {**cdk_json_context(), "aws:cdk:bundling-stacks": [], **context}, outdir=str(outdir)
    )
    stack = app.node.find_child(STACK_ID)
    assert isinstance(stack, GitHubDeployRoleStack)
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Template]:
    outdir = tmp_path_factory.mktemp("cdk-github")
    _, template = _synth(outdir, githubRepository=REPOSITORY)
    return outdir, template


def _only(template: Template, resource_type: str) -> dict[str, Any]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, found
    return dict(next(iter(found.values()))["Properties"])


def test_the_stack_exists_only_when_a_repository_is_named(tmp_path: Path) -> None:
    app = build_app({**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    assert app.node.try_find_child(STACK_ID) is None


def test_github_oidc_provider_for_the_sts_audience(synthesized: tuple[Path, Template]) -> None:
    _, template = synthesized
    provider = _only(template, "AWS::IAM::OIDCProvider")
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_role_trusts_only_this_repositorys_environments(synthesized: tuple[Path, Template]) -> None:
    _, template = synthesized
    trust = _only(template, "AWS::IAM::Role")["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    (statement,) = trust
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert list(statement["Principal"]) == ["Federated"]
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [
                f"repo:{REPOSITORY}:environment:dev",
                f"repo:{REPOSITORY}:environment:prod",
            ],
        }
    }


def test_role_may_only_assume_the_cdk_bootstrap_roles_and_read_stacks(
    synthesized: tuple[Path, Template],
) -> None:
    _, template = synthesized
    role = _only(template, "AWS::IAM::Role")
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role
    statements = _only(template, "AWS::IAM::Policy")["PolicyDocument"]["Statement"]
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert set(by_sid) == {"AssumeCdkBootstrapRoles", "ReadServiceStackOutputs"}
    assume = by_sid["AssumeCdkBootstrapRoles"]
    assert assume["Effect"] == "Allow"
    assert sorted(assume["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert sorted(resource["Fn::Sub"] for resource in assume["Resource"]) == [
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/cdk-hnb659fds-{kind}-role-"
        "${AWS::AccountId}-${AWS::Region}"
        for kind in ("deploy", "file-publishing", "lookup")
    ]
    read = by_sid["ReadServiceStackOutputs"]
    assert read["Action"] == "cloudformation:DescribeStacks"
    assert sorted(resource["Fn::Sub"] for resource in read["Resource"]) == [
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:"
        f"stack/UsersService-{stage}/*"
        for stage in ("dev", "prod")
    ]


def test_role_arn_is_a_stack_output(synthesized: tuple[Path, Template]) -> None:
    _, template = synthesized
    assert "DeployRoleArn" in template.find_outputs("*")


def test_cdk_nag_has_no_unacknowledged_finding(synthesized: tuple[Path, Template]) -> None:
    outdir, _ = synthesized
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_an_existing_provider_is_reused_and_environments_are_chosen(tmp_path: Path) -> None:
    _, template = _synth(
        tmp_path,
        githubRepository=REPOSITORY,
        githubEnvironments="prod",
        githubOidcProviderArn=EXISTING_PROVIDER,
    )
    assert template.find_resources("AWS::IAM::OIDCProvider") == {}
    (statement,) = _only(template, "AWS::IAM::Role")["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Federated": EXISTING_PROVIDER}
    subjects = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subjects == [f"repo:{REPOSITORY}:environment:prod"]


@pytest.mark.parametrize("repository", ["users-service", "org/repo:environment:*", "*/*"])
def test_a_repository_that_is_not_owner_slash_name_is_refused(
    tmp_path: Path, repository: str
) -> None:
    with pytest.raises(ValueError, match="OWNER/NAME"):
        _synth(tmp_path, githubRepository=repository)

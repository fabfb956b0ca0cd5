"""The GitHub deploy roles: one per environment, each trusted by its own jobs on main only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.github_deploy_role import STACK_ID, GitHubDeployRoleStack
from infra.preflight_rules import PREFLIGHT_READ_ACTIONS
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


def _roles(template: Template) -> dict[str, dict[str, Any]]:
    """Each environment's role properties, by the environment its trust names."""
    roles = {}
    for role in template.find_resources("AWS::IAM::Role").values():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        sub = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        roles[sub.split(":environment:")[1].split(":")[0]] = role["Properties"]
    return roles


def _policy_of(template: Template, role_id: str) -> list[dict[str, Any]]:
    (policy,) = [
        policy["Properties"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
    return statements


def test_the_stack_exists_only_when_a_repository_is_named(tmp_path: Path) -> None:
    app = build_app({**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    assert app.node.try_find_child(STACK_ID) is None


def test_github_oidc_provider_for_the_sts_audience(synthesized: tuple[Path, Template]) -> None:
    _, template = synthesized
    provider = _only(template, "AWS::IAM::OIDCProvider")
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_each_environment_has_its_own_role_trusting_only_its_jobs_on_main(
    synthesized: tuple[Path, Template],
) -> None:
    _, template = synthesized
    roles = _roles(template)
    assert set(roles) == {"dev", "prod"}
    for environment, role in roles.items():
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert list(statement["Principal"]) == ["Federated"]
        # One subject, exact: the repository, this environment, the main branch.
        assert statement["Condition"] == {
            "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": (
                    f"repo:{REPOSITORY}:environment:{environment}:ref:refs/heads/main"
                ),
            }
        }


def test_each_role_may_only_assume_the_cdk_bootstrap_roles_read_its_stack_and_preflight(
    synthesized: tuple[Path, Template],
) -> None:
    _, template = synthesized
    role_ids = {
        environment: logical_id
        for logical_id, role in template.find_resources("AWS::IAM::Role").items()
        for environment in _roles(template)
        if f":environment:{environment}:" in str(role["Properties"]["AssumeRolePolicyDocument"])
    }
    for environment, role_id in role_ids.items():
        role = template.to_json()["Resources"][role_id]["Properties"]
        assert "ManagedPolicyArns" not in role
        assert "Policies" not in role
        by_sid = {statement["Sid"]: statement for statement in _policy_of(template, role_id)}
        assert set(by_sid) == {
            "AssumeCdkBootstrapRoles",
            "ReadServiceStackOutputs",
            "PreflightReads",
        }
        reads = by_sid["PreflightReads"]
        assert sorted(reads["Action"]) == sorted(PREFLIGHT_READ_ACTIONS)
        assert all(
            action.split(":")[1].startswith(("Describe", "Get", "List"))
            for action in reads["Action"]
        )
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
        assert read["Resource"] == {
            "Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:"
            f"stack/UsersService-{environment}/*"
        }


def test_each_role_arn_is_a_stack_output(synthesized: tuple[Path, Template]) -> None:
    _, template = synthesized
    assert {"DeployRoleArnDev", "DeployRoleArnProd"} <= set(template.find_outputs("*"))


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
    subject = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert subject == f"repo:{REPOSITORY}:environment:prod:ref:refs/heads/main"


def test_another_deploy_branch_can_be_named_but_no_wildcard(tmp_path: Path) -> None:
    _, template = _synth(tmp_path, githubRepository=REPOSITORY, githubBranch="release")
    assert all(
        str(role["AssumeRolePolicyDocument"]).count(":ref:refs/heads/release") == 1
        for role in _roles(template).values()
    )
    for context in ({"githubBranch": "*"}, {"githubEnvironments": "prod,*"}):
        with pytest.raises(ValueError, match="no wildcard"):
            _synth(tmp_path / "x", githubRepository=REPOSITORY, **context)


@pytest.mark.parametrize("repository", ["users-service", "org/repo:environment:*", "*/*"])
def test_a_repository_that_is_not_owner_slash_name_is_refused(
    tmp_path: Path, repository: str
) -> None:
    with pytest.raises(ValueError, match="OWNER/NAME"):
        _synth(tmp_path, githubRepository=repository)

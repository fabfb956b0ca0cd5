"""GitHub Actions' way into the account: its OIDC provider and one deploy role per environment.

A separate small stack, deployed once per account and region by someone with IAM rights
(docs/deploy.md, "Continuous delivery"). Each role trusts only this repository's jobs that run in
its own GitHub environment from the deploy branch: the repository's OIDC subject template
must include the ref (``repo``, ``context``, ``ref``), so the ``sub`` AWS checks reads
``repo:OWNER/NAME:environment:prod:ref:refs/heads/main``. A role may do two things: assume
the CDK bootstrap roles that ``cdk deploy`` uses (deploy, file publishing, lookup), and read
its own stage's stack outputs for the smoke test. Everything else happens as those
bootstrap roles, whose CloudFormation execution policies are in infra/execution_policies/.
"""

from __future__ import annotations

import re

from aws_cdk import (
    Acknowledgment,
    App,
    CfnOutput,
    DefaultStackSynthesizer,
    Duration,
    Fn,
    Stack,
    Validations,
)
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.preflight_rules import PREFLIGHT_READ_ACTIONS

STACK_ID = "UsersService-GitHubDeploy"
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The audience aws-actions/configure-aws-credentials asks GitHub for.
STS_AUDIENCE = "sts.amazonaws.com"
DEFAULT_ENVIRONMENTS = ("dev", "prod")
DEFAULT_BRANCH = "main"
SERVICE_STACK_PREFIX = "UsersService-"
# The bootstrap roles `cdk deploy` assumes; names as the default synthesizer derives them.
BOOTSTRAP_ROLE_ARNS = (
    DefaultStackSynthesizer.DEFAULT_DEPLOY_ROLE_ARN,
    DefaultStackSynthesizer.DEFAULT_FILE_ASSET_PUBLISHING_ROLE_ARN,
    DefaultStackSynthesizer.DEFAULT_LOOKUP_ROLE_ARN,
)
REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
# GitHub environment and branch names as this stack accepts them: no wildcard, no colon.
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


def subject(repository: str, environment: str, branch: str) -> str:
    """The ``sub`` of a job in ``environment`` on ``branch``, with the repo/context/ref template."""
    return f"repo:{repository}:environment:{environment}:ref:refs/heads/{branch}"


class GitHubDeployRoleStack(Stack):
    """The OIDC provider (or an existing one) and a deploy role for each environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: str,
        environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS,
        branch: str = DEFAULT_BRANCH,
        existing_provider_arn: str | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id, description=description)
        if not REPOSITORY.match(repository):
            raise ValueError(f"githubRepository must be OWNER/NAME, not {repository!r}")
        if not environments:
            raise ValueError("githubEnvironments names no environment")
        provider = (
            iam.OidcProviderNative.from_oidc_provider_arn(self, "GitHubOidc", existing_provider_arn)
            if existing_provider_arn
            else iam.OidcProviderNative(
                self, "GitHubOidc", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE]
            )
        )
        if not all(PLAIN_NAME.match(name) for name in (*environments, branch)):
            raise ValueError("githubEnvironments and githubBranch take plain names, no wildcard")
        self.roles = {
            environment: self._deploy_role(provider, repository, environment, branch)
            for environment in environments
        }

    def _deploy_role(
        self,
        provider: iam.IOidcProvider,
        repository: str,
        environment: str,
        branch: str,
    ) -> iam.Role:
        role = iam.Role(
            self,
            f"DeployRole-{environment}",
            description=f"GitHub Actions deploys of {repository}, environment {environment}, "
            f"from {branch}",
            max_session_duration=Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subject(repository, environment, branch),
                    }
                },
            ),
        )
        qualifier = DefaultStackSynthesizer.DEFAULT_QUALIFIER
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[
                    Fn.sub(arn.replace("${Qualifier}", qualifier)) for arn in BOOTSTRAP_ROLE_ARNS
                ],
            )
        )
        # A stack's ARN ends in a unique id that changes when it is recreated: hence `/*`.
        stack_arn = (
            "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:"
            f"stack/{SERVICE_STACK_PREFIX}{environment}/*"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadServiceStackOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[Fn.sub(stack_arn)],
            )
        )
        # make preflight runs in the workflow with this role: it reads, and writes nothing.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PreflightReads",
                actions=list(PREFLIGHT_READ_ACTIONS),
                resources=["*"],
            )
        )
        policy = role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::{stack_arn.replace('${', '<').replace('}', '>')}]",
                reason="DescribeStacks on its own stage's stack, whose ARN ends in the unique id "
                "CloudFormation gives it at creation; the name before it is fixed.",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="The preflight's read-only Describe/Get/List calls: account-wide ones "
                "(zones, VPCs, quotas, Lambda's account settings) take no resource, and the "
                "others look for names that must not exist yet.",
            ),
        )
        CfnOutput(
            self,
            f"DeployRoleArn{re.sub('[^A-Za-z0-9]', '', environment.title())}",
            value=role.role_arn,
            description=f"Variable AWS_DEPLOY_ROLE_ARN of the GitHub environment {environment}",
        )
        return role


def add_github_deploy_stack(app: App) -> GitHubDeployRoleStack | None:
    """Add the stack when ``-c githubRepository=OWNER/NAME`` asks for it (docs/deploy.md)."""
    repository = app.node.try_get_context("githubRepository")
    if not repository:
        return None
    environments = app.node.try_get_context("githubEnvironments") or ",".join(DEFAULT_ENVIRONMENTS)
    return GitHubDeployRoleStack(
        app,
        STACK_ID,
        repository=str(repository),
        environments=tuple(name.strip() for name in str(environments).split(",") if name.strip()),
        branch=str(app.node.try_get_context("githubBranch") or DEFAULT_BRANCH),
        existing_provider_arn=app.node.try_get_context("githubOidcProviderArn") or None,
        description=f"GitHub Actions OIDC provider and deploy role for {repository}",
    )

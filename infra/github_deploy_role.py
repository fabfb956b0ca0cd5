"""GitHub Actions' way into the account: its OIDC provider and a least-privilege deploy role.

A separate small stack, deployed once per account and region by someone with IAM rights
(README, "Continuous delivery"). The role trusts only this repository's workflow jobs that
run in the named GitHub environments, and may do two things: assume the CDK bootstrap roles
that ``cdk deploy`` uses (deploy, file publishing, lookup), and read the service stacks'
outputs for the smoke test. Everything else happens as those bootstrap roles.
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

from infra.settings import STAGES

STACK_ID = "UsersService-GitHubDeploy"
GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
# The audience aws-actions/configure-aws-credentials asks GitHub for.
STS_AUDIENCE = "sts.amazonaws.com"
DEFAULT_ENVIRONMENTS = ("dev", "prod")
SERVICE_STACK_PREFIX = "UsersService-"
# The bootstrap roles `cdk deploy` assumes; names as the default synthesizer derives them.
BOOTSTRAP_ROLE_ARNS = (
    DefaultStackSynthesizer.DEFAULT_DEPLOY_ROLE_ARN,
    DefaultStackSynthesizer.DEFAULT_FILE_ASSET_PUBLISHING_ROLE_ARN,
    DefaultStackSynthesizer.DEFAULT_LOOKUP_ROLE_ARN,
)
REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


class GitHubDeployRoleStack(Stack):
    """The OIDC provider (or an existing one) and the role the deploy workflow assumes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: str,
        environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS,
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
        subjects = [f"repo:{repository}:environment:{name}" for name in environments]
        self.role = iam.Role(
            self,
            "DeployRole",
            description=f"GitHub Actions deploys of {repository} ({', '.join(environments)})",
            max_session_duration=Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subjects,
                    }
                },
            ),
        )
        qualifier = DefaultStackSynthesizer.DEFAULT_QUALIFIER
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="AssumeCdkBootstrapRoles",
                actions=["sts:AssumeRole", "sts:TagSession"],
                resources=[
                    Fn.sub(arn.replace("${Qualifier}", qualifier)) for arn in BOOTSTRAP_ROLE_ARNS
                ],
            )
        )
        # A stack's ARN ends in a unique id that changes when it is recreated: hence `/*`.
        stack_arns = {
            stage: "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:"
            f"stack/{SERVICE_STACK_PREFIX}{stage}/*"
            for stage in STAGES
        }
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadServiceStackOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[Fn.sub(arn) for arn in stack_arns.values()],
            )
        )
        policy = self.role.node.find_child("DefaultPolicy").node.default_child
        assert policy is not None
        for arn in stack_arns.values():
            Validations.of(policy).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM5[Resource::{arn.replace('${', '<').replace('}', '>')}]",
                    reason="DescribeStacks on one service stack, whose ARN ends in the unique id "
                    "CloudFormation gives it at creation; the name before it is fixed.",
                )
            )
        CfnOutput(
            self,
            "DeployRoleArn",
            value=self.role.role_arn,
            description="Repository variable AWS_DEPLOY_ROLE_ARN of the deploy workflow",
        )


def add_github_deploy_stack(app: App) -> GitHubDeployRoleStack | None:
    """Add the stack when ``-c githubRepository=OWNER/NAME`` asks for it (README)."""
    repository = app.node.try_get_context("githubRepository")
    if not repository:
        return None
    environments = app.node.try_get_context("githubEnvironments") or ",".join(DEFAULT_ENVIRONMENTS)
    return GitHubDeployRoleStack(
        app,
        STACK_ID,
        repository=str(repository),
        environments=tuple(name.strip() for name in str(environments).split(",") if name.strip()),
        existing_provider_arn=app.node.try_get_context("githubOidcProviderArn") or None,
        description=f"GitHub Actions OIDC provider and deploy role for {repository}",
    )

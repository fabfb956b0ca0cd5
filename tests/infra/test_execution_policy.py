"""The CloudFormation execution policies in infra/execution_policies/ cover every resource type.

What CloudFormation calls to create, update, read and delete a resource type is listed
in the type's registry schema ("handlers" permissions); cfn-lint ships those schemas.
Each permission of each type in the synthesized templates must be allowed by the
policies (checked with the IAM evaluator), except the few that serve features this stack
does not use, each named below with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cfnlint.data.schemas
import pytest

from infra.app import build_app
from infra.bundling import PROJECT_ROOT
from tests.infra.conftest import Synthesized, cdk_json_context
from tests.infra.iam_evaluator import Decision, Request, evaluate

POLICIES = PROJECT_ROOT / "infra" / "execution_policies"
SCHEMAS = Path(cfnlint.data.schemas.__file__).parent
# IAM's quota for a customer managed policy, whitespace not counted.
MANAGED_POLICY_MAX_CHARACTERS = 6_144
ACCOUNT = "123456789012"
# Permissions a handler lists for an option this stack never sets.
UNUSED = {
    "elasticfilesystem:DescribeMountTargets": "Lambda: no function mounts EFS",
    "s3files:ListMountTargets": "Lambda: no function mounts S3 Files",
    "codedeploy:CreateDeployment": "Lambda aliases: no CodeDeploy traffic shifting",
    "codedeploy:GetDeployment": "Lambda aliases: no CodeDeploy traffic shifting",
    "codedeploy:GetDeploymentConfig": "Lambda aliases: no CodeDeploy traffic shifting",
    "codedeploy:GetDeploymentGroup": "Lambda aliases: no CodeDeploy traffic shifting",
    "codedeploy:StopDeployment": "Lambda aliases: no CodeDeploy traffic shifting",
    "autoscaling:DescribeTags": "alarms: no Auto Scaling group is watched",
    "docdb-elastic:GetCluster": "secret rotation: the target is RDS, not DocumentDB",
    "redshift:DescribeClusters": "secret rotation: the target is RDS, not Redshift",
    "redshift-serverless:GetNamespace": "secret rotation: the target is RDS, not Redshift",
    "redshift-serverless:ListWorkgroups": "secret rotation: the target is RDS, not Redshift",
    "firehose:TagDeliveryStream": "flow logs go to CloudWatch Logs, not Firehose",
    "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation": "no VPC Lattice network",
    "rds:AddRoleToDBCluster": "Aurora: no IAM role is associated with the cluster",
    "rds:RemoveRoleFromDBCluster": "Aurora: no IAM role is associated with the cluster",
    "rds:EnableHttpEndpoint": "Aurora: the Data API stays off",
    "rds:DisableHttpEndpoint": "Aurora: the Data API stays off",
    "rds:RemoveFromGlobalCluster": "Aurora: the cluster is in no global database",
    "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation": "no VPC Lattice network",
}
UNUSED_PREFIXES = {"s3tables:": "the bucket is a general purpose bucket, not S3 Tables"}
# Types the registry does not describe, and what CloudFormation does for them.
NOT_IN_REGISTRY = {
    "AWS::Serverless::Application": [
        "serverlessrepo:CreateCloudFormationTemplate",
        "serverlessrepo:GetCloudFormationTemplate",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
    ],
    "Custom::Trigger": ["lambda:InvokeFunction"],
    "Custom::S3AutoDeleteObjects": ["lambda:InvokeFunction"],
    "Custom::VpcRestrictDefaultSG": ["lambda:InvokeFunction"],
}
# Actions granted on this service's own resources only, asked on one of those.
SCOPED_SERVICES = ("lambda:InvokeFunction", "cloudformation:", "serverlessrepo:")
# The resource each of those actions acts on, as CloudFormation names it from the stack.
NOT_IN_REGISTRY_RESOURCES = {
    "serverlessrepo": "arn:aws:serverlessrepo:us-east-1:297356227824:applications/"
    "SecretsManagerRDSPostgreSQLRotationSingleUser",
    "cloudformation": f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/"
    "UsersService-prod-DatabaseInstanceRotationSingleUser-1A2B3C/0a1b2c3d",
    "lambda": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:UsersService-prod-CustomS3Auto-1A2B",
}


def _statements() -> list[dict[str, Any]]:
    return [
        statement
        for path in sorted(POLICIES.glob("*.json"))
        for statement in json.loads(path.read_text())["Statement"]
    ]


def _handler_permissions(resource_type: str) -> set[str] | None:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    schema_hash = providers.get(resource_type)
    if schema_hash is None:
        return None
    schema = json.loads((SCHEMAS / "resources" / f"{schema_hash}.json").read_text())
    return {
        permission
        for handler in ("create", "read", "update", "delete")
        for permission in schema.get("handlers", {}).get(handler, {}).get("permissions", [])
    }


@pytest.fixture(scope="module")
def github_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("cdk-github-policy")
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], "githubRepository": "o/r"}
    build_app(context, outdir=str(outdir)).synth()
    template: dict[str, Any] = json.loads(
        (outdir / "UsersService-GitHubDeploy.template.json").read_text()
    )
    return template


def _resource_types(*synths: Synthesized, github: dict[str, Any]) -> set[str]:
    templates = [*(synth.template.to_json() for synth in synths), github]
    return {
        resource["Type"] for template in templates for resource in template["Resources"].values()
    }


def _needed(resource_type: str) -> set[str]:
    """The permissions CloudFormation needs to manage one resource type here."""
    permissions = _handler_permissions(resource_type)
    if permissions is None:
        assert resource_type in NOT_IN_REGISTRY, f"{resource_type}: what does CloudFormation call?"
        return set(NOT_IN_REGISTRY[resource_type])
    return {
        permission
        for permission in permissions
        if permission not in UNUSED and not permission.startswith(tuple(UNUSED_PREFIXES))
    }


def test_the_policies_allow_every_permission_of_every_resource_type(
    dev: Synthesized,
    prod: Synthesized,
    aurora_prod: Synthesized,
    github_template: dict[str, Any],
) -> None:
    """Both database options (-c database=instance|aurora) and the GitHub roles."""
    statements = _statements()
    missing = []
    synths = (dev, prod, aurora_prod)
    for resource_type in sorted(_resource_types(*synths, github=github_template)):
        for action in sorted(_needed(resource_type)):
            scoped = action.startswith(SCOPED_SERVICES)
            target = NOT_IN_REGISTRY_RESOURCES[action.split(":")[0]] if scoped else "*"
            if evaluate(Request(action=action, resource=target), statements) != Decision.ALLOW:
                missing.append(f"{resource_type}: {action}")
    assert missing == [], "add to infra/execution_policies/: " + ", ".join(missing)


def test_no_permission_outside_what_the_types_need() -> None:
    """Least privilege: every action granted is one a handler (or a nested stack) uses."""
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    known = {
        permission
        for resource_type in providers
        for permission in (_handler_permissions(resource_type) or set())
    } | {action for actions in NOT_IN_REGISTRY.values() for action in actions}
    known |= {"cloudformation:DescribeStacks", "cloudformation:GetTemplate"}
    known |= {"serverlessrepo:GetApplication"}
    for statement in _statements():
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            assert "*" not in action, f"{statement['Sid']}: no wildcard actions ({action})"
            assert action in known, f"{statement['Sid']}: {action} is not a handler permission"


def test_unused_permissions_are_really_not_granted() -> None:
    statements = _statements()
    for action in UNUSED:
        assert evaluate(Request(action=action, resource="*"), statements) != Decision.ALLOW, action


def test_the_nested_stacks_and_custom_resources_are_limited_to_this_service() -> None:
    statements = _statements()
    other = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:someone-elses-function"
    assert evaluate(Request(action="lambda:InvokeFunction", resource=other), statements) != (
        Decision.ALLOW
    )
    stack = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/SomeoneElse/0a1b"
    assert evaluate(Request(action="cloudformation:UpdateStack", resource=stack), statements) != (
        Decision.ALLOW
    )


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.json")), ids=lambda path: path.name)
def test_each_policy_fits_iams_size_quota(path: Path) -> None:
    characters = len("".join(path.read_text().split()))
    assert characters <= MANAGED_POLICY_MAX_CHARACTERS, f"{path.name}: {characters}"

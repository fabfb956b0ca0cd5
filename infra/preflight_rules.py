"""What the account and region must offer before a deploy starts, decided on facts read first.

Every rule takes the facts ``infra.preflight`` gathered (boto3-shaped, no AWS call here)
and returns the problems it finds, each naming the setting to change. The AWS facts
below are cited in infra/DEPLOY.md, "Preflight".
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Lambda keeps this much of the account's concurrency unreserved ("Configuring reserved
# concurrency for a function"): a reservation may take the rest, never these.
UNRESERVED_CONCURRENCY_MINIMUM = 100
# Zone IDs where RDS Proxy does not run ("Quotas and limitations for RDS Proxy").
RDS_PROXY_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2"})
# Regions without Lambda SnapStart ("Improving startup performance with Lambda SnapStart",
# Supported Regions) and without RDS Proxy ("Supported Regions and DB engines for Amazon
# RDS Proxy"): Asia Pacific (Taipei) and Asia Pacific (New Zealand), for both.
REGIONS_WITHOUT_SNAPSTART = frozenset({"ap-east-2", "ap-southeast-6"})
REGIONS_WITHOUT_RDS_PROXY = frozenset({"ap-east-2", "ap-southeast-6"})
# The default synthesizer's templates refuse older bootstrap stacks (their
# CheckBootstrapVersion rule); tests/infra/test_preflight.py reads it from a synthesis.
REQUIRED_BOOTSTRAP_VERSION = 6
# What infra.preflight reads (sts:GetCallerIdentity needs no permission); the GitHub deploy
# roles are granted exactly these, and a test records the calls a run makes against them.
PREFLIGHT_READ_ACTIONS = (
    "cloudformation:DescribeStacks",
    "cloudformation:ListStackResources",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeVpcs",
    "lambda:GetAccountSettings",
    "lambda:GetFunctionConcurrency",
    "logs:DescribeLogGroups",
    "rds:DescribeDBClusters",
    "rds:DescribeDBInstances",
    "rds:DescribeOrderableDBInstanceOptions",
    "secretsmanager:DescribeSecret",
    "servicequotas:GetAWSDefaultServiceQuota",
    "servicequotas:GetServiceQuota",
    "ssm:GetParameter",
)
# Stack states in which CloudFormation refuses an update until someone acts.
BLOCKED_STACK_STATES = {
    "UPDATE_ROLLBACK_FAILED": "finish the rollback first: aws cloudformation "
    "continue-update-rollback --stack-name {stack} (see infra/DEPLOY.md, 'Preflight')",
    "ROLLBACK_FAILED": "delete the stack's leftovers and the stack, then deploy again",
    "DELETE_FAILED": "finish the deletion (make destroy) or remove what blocks it, then deploy",
    "IMPORT_ROLLBACK_FAILED": "finish or undo the resource import first",
}


@dataclass(frozen=True)
class Plan:
    """What the deploy will ask of the account: from the stage's settings."""

    stack_name: str
    region: str
    zone_names: tuple[str, ...]
    reserved_concurrency: int | None
    # Physical names the stack gives to resources prod keeps after a tear-down.
    retained_names: tuple[str, ...]
    # With -c database=aurora: the engine version whose Serverless v2 instances it orders.
    aurora_engine_version: str | None = None


@dataclass(frozen=True)
class Facts:
    """What the account and region hold, as boto3 answered (None: not readable)."""

    zone_ids: dict[str, str] = field(default_factory=dict)
    bootstrap_version: int | None = None
    stack_status: str | None = None
    existing_names: tuple[str, ...] = ()
    unreserved_concurrency: int | None = None
    function_reservation: int = 0
    vpcs: int | None = None
    vpc_quota: int | None = None
    # Whether the region orders db.serverless instances of the Aurora engine version.
    serverless_v2_offered: bool | None = None


@dataclass(frozen=True)
class Problem:
    check: str
    message: str


def check_region(plan: Plan) -> list[Problem]:
    missing = [
        feature
        for feature, regions in (
            ("Lambda SnapStart", REGIONS_WITHOUT_SNAPSTART),
            ("RDS Proxy", REGIONS_WITHOUT_RDS_PROXY),
        )
        if plan.region in regions
    ]
    if not missing:
        return []
    return [
        Problem(
            "region",
            f"{plan.region} has no {' and no '.join(missing)}: deploy to another region "
            "(AWS_REGION, or the profile's region)",
        )
    ]


def check_zones(plan: Plan, facts: Facts) -> list[Problem]:
    problems = []
    for name in plan.zone_names:
        zone_id = facts.zone_ids.get(name)
        if zone_id is None:
            available = ", ".join(sorted(facts.zone_ids)) or "none"
            problems.append(
                Problem(
                    "zones",
                    f"{name} is not an available zone of {plan.region} (available: "
                    f"{available}): choose others with -c availabilityZones=...",
                )
            )
        elif zone_id in RDS_PROXY_UNSUPPORTED_ZONE_IDS:
            problems.append(
                Problem(
                    "zones",
                    f"{name} is zone {zone_id} in this account, where RDS Proxy does not "
                    "run: choose other zones with -c availabilityZones=...",
                )
            )
    return problems


def check_bootstrap(plan: Plan, facts: Facts) -> list[Problem]:
    if facts.bootstrap_version is None:
        return [
            Problem(
                "bootstrap",
                f"{plan.region} is not bootstrapped for CDK: run node_modules/.bin/cdk "
                "bootstrap (infra/DEPLOY.md, 'Prerequisites')",
            )
        ]
    if facts.bootstrap_version < REQUIRED_BOOTSTRAP_VERSION:
        return [
            Problem(
                "bootstrap",
                f"the CDK bootstrap stack is version {facts.bootstrap_version}, the templates "
                f"need {REQUIRED_BOOTSTRAP_VERSION} or later: run node_modules/.bin/cdk "
                "bootstrap again",
            )
        ]
    return []


def check_stack_state(plan: Plan, facts: Facts) -> list[Problem]:
    status = facts.stack_status
    if status is None:
        return []
    if status.endswith("_IN_PROGRESS"):
        return [
            Problem("stack", f"{plan.stack_name} is {status}: wait for that operation to finish")
        ]
    advice = BLOCKED_STACK_STATES.get(status)
    if advice is None:
        return []
    stack = plan.stack_name
    return [Problem("stack", f"{stack} is {status}: {advice.format(stack=stack)}")]


def check_leftovers(plan: Plan, facts: Facts) -> list[Problem]:
    """A new stack cannot create a name that a kept resource of an earlier one still holds."""
    if facts.stack_status is not None or not facts.existing_names:
        return []
    names = ", ".join(facts.existing_names)
    return [
        Problem(
            "leftovers",
            f"{plan.stack_name} does not exist, but a previous tear-down kept {names}: "
            "CloudFormation would fail creating them again. Redeploy onto them, or delete "
            "them (infra/DEPLOY.md, 'Tear-down and redeploy')",
        )
    ]


def check_reserved_concurrency(plan: Plan, facts: Facts) -> list[Problem]:
    wanted = plan.reserved_concurrency
    if wanted is None or facts.unreserved_concurrency is None:
        return []
    # The function's own reservation is already outside the unreserved pool.
    grantable = (
        facts.unreserved_concurrency + facts.function_reservation - UNRESERVED_CONCURRENCY_MINIMUM
    )
    if wanted <= grantable:
        return []
    return [
        Problem(
            "concurrency",
            f"reservedConcurrency={wanted} but this account can reserve at most "
            f"{max(grantable, 0)} (Lambda keeps {UNRESERVED_CONCURRENCY_MINIMUM} unreserved): "
            "leave it unset (-c reservedConcurrency=none), lower it, or ask for a higher "
            "Lambda concurrent executions quota",
        )
    ]


def check_vpc_quota(plan: Plan, facts: Facts) -> list[Problem]:
    if facts.stack_status is not None or facts.vpcs is None or facts.vpc_quota is None:
        return []
    if facts.vpcs < facts.vpc_quota:
        return []
    return [
        Problem(
            "quotas",
            f"{plan.region} already has {facts.vpcs} VPCs of its quota of {facts.vpc_quota}; "
            "the stack creates one more: delete one or ask for a higher 'VPCs per Region'",
        )
    ]


def check_aurora(plan: Plan, facts: Facts) -> list[Problem]:
    """Aurora Serverless v2 of the pinned engine version must be orderable in the region."""
    if plan.aurora_engine_version is None or facts.serverless_v2_offered is not False:
        return []
    return [
        Problem(
            "aurora",
            f"{plan.region} offers no Aurora Serverless v2 (db.serverless) instance of Aurora "
            f"PostgreSQL {plan.aurora_engine_version}: deploy -c database=instance, or to "
            "another region",
        )
    ]


def problems(plan: Plan, facts: Facts) -> list[Problem]:
    """Every reason the deploy would fail, in the order CloudFormation would meet them."""
    return [
        *check_region(plan),
        *check_bootstrap(plan, facts),
        *check_stack_state(plan, facts),
        *check_zones(plan, facts),
        *check_aurora(plan, facts),
        *check_leftovers(plan, facts),
        *check_reserved_concurrency(plan, facts),
        *check_vpc_quota(plan, facts),
    ]

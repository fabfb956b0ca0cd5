"""``make preflight``: read the account and region, refuse a deploy that would fail late.

Run with the same ``-c key=value`` context as ``cdk deploy`` (the Makefile passes its
CDK_ARGS). It reads, never writes: each AWS answer becomes a fact, and
``infra.preflight_rules`` decides. A missing permission to read one fact skips that
check with a note rather than failing the deploy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from infra.bundling import PROJECT_ROOT
from infra.node_banner import silence_node_end_of_life_banner
from infra.preflight_rules import Facts, Plan, problems

silence_node_end_of_life_banner()  # before aws_cdk starts the jsii runtime

from aws_cdk import App, DefaultStackSynthesizer  # noqa: E402

from infra.database import fixed_names, is_cluster_identifier  # noqa: E402
from infra.database_aurora import ENGINE as AURORA_ENGINE  # noqa: E402
from infra.network import zone_name  # noqa: E402
from infra.settings import AURORA, Settings  # noqa: E402

BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{DefaultStackSynthesizer.DEFAULT_QUALIFIER}/version"
# "VPCs per Region" in Service Quotas.
VPC_QUOTA_CODE = "L-F678F1CE"
API_FUNCTION_LOGICAL_PREFIX = "ApiFunction"
T = TypeVar("T")


def plan_for(settings: Settings, region: str) -> Plan:
    return Plan(
        stack_name=settings.stack_name,
        region=region,
        zone_names=tuple(zone_name(zone, region) for zone in settings.availability_zones),
        reserved_concurrency=settings.reserved_concurrency,
        retained_names=fixed_names(settings),
        aurora_engine_version=(
            AURORA_ENGINE.engine_version.full_version
            if settings.database == AURORA and AURORA_ENGINE.engine_version
            else None
        ),
    )


def gather(session: boto3.Session, plan: Plan, notes: list[str]) -> Facts:
    """Read what the rules need; a fact the caller may not read is None, with a note."""

    def read(what: str, call: Callable[[], T]) -> T | None:
        try:
            return call()
        except ClientError as error:
            notes.append(f"could not read {what} ({error.response['Error']['Code']}): not checked")
            return None

    ec2 = session.client("ec2")
    stack_status = read("the stack", lambda: _stack_status(session, plan.stack_name))
    reservation_wanted = plan.reserved_concurrency is not None
    return Facts(
        zone_ids=read("the zones", lambda: _zone_ids(ec2)) or {},
        bootstrap_version=read("the bootstrap version", lambda: _bootstrap_version(session)),
        stack_status=stack_status,
        existing_names=tuple(
            name
            for name in plan.retained_names
            if read(f"whether {name} exists", lambda name=name: _exists(session, name))
        ),
        unreserved_concurrency=read(
            "the account's concurrency",
            lambda: unreserved_concurrency(session.client("lambda")),
        )
        if reservation_wanted
        else None,
        function_reservation=(
            read("the API function's reservation", lambda: _function_reservation(session, plan))
            or 0
        )
        if reservation_wanted and stack_status
        else 0,
        vpcs=read("the VPCs", lambda: len(ec2.describe_vpcs()["Vpcs"])),
        vpc_quota=read("the VPC quota", lambda: _vpc_quota(session)),
        serverless_v2_offered=read(
            "the Aurora Serverless v2 offer",
            lambda: serverless_v2_offered(session.client("rds"), plan.aurora_engine_version),
        )
        if plan.aurora_engine_version
        else None,
    )


def _zone_ids(ec2: Any) -> dict[str, str]:
    zones = ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])[
        "AvailabilityZones"
    ]
    return {zone["ZoneName"]: zone["ZoneId"] for zone in zones}


def _bootstrap_version(session: boto3.Session) -> int | None:
    try:
        parameter = session.client("ssm").get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ParameterNotFound":
            return None
        raise
    return int(parameter["Parameter"]["Value"])


def _stack_status(session: boto3.Session, stack_name: str) -> str | None:
    try:
        (stack,) = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in error.response["Error"].get("Message", ""):
            return None
        raise
    status: str = stack["StackStatus"]
    return status


def _exists(session: boto3.Session, name: str) -> bool:
    """A database instance or cluster, a log group (names starting with /) or a secret."""
    if name.startswith("/"):
        groups = session.client("logs").describe_log_groups(logGroupNamePrefix=name)
        return any(group["logGroupName"] == name for group in groups["logGroups"])
    if "/" in name:
        try:
            # A secret scheduled for deletion still holds its name until it is gone.
            session.client("secretsmanager").describe_secret(SecretId=name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise
        return True
    rds = session.client("rds")
    try:
        if is_cluster_identifier(name):
            rds.describe_db_clusters(DBClusterIdentifier=name)
        else:
            rds.describe_db_instances(DBInstanceIdentifier=name)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("DBInstanceNotFound", "DBClusterNotFoundFault"):
            return False
        raise
    return True


def serverless_v2_offered(rds: Any, engine_version: str | None) -> bool:
    """Whether the region orders db.serverless instances of Aurora PostgreSQL at that version."""
    options = rds.describe_orderable_db_instance_options(
        Engine="aurora-postgresql",
        EngineVersion=engine_version,
        DBInstanceClass="db.serverless",
        MaxRecords=20,
    )["OrderableDBInstanceOptions"]
    return bool(options)


def unreserved_concurrency(lambda_client: Any) -> int:
    """The account's concurrency that no function has reserved (GetAccountSettings)."""
    limits = lambda_client.get_account_settings()["AccountLimit"]
    return int(limits["UnreservedConcurrentExecutions"])


def _function_reservation(session: boto3.Session, plan: Plan) -> int:
    """The deployed API function's reservation, which a redeploy gives back first."""
    pages = (
        session.client("cloudformation")
        .get_paginator("list_stack_resources")
        .paginate(StackName=plan.stack_name)
    )
    for page in pages:
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::Lambda::Function" and resource[
                "LogicalResourceId"
            ].startswith(API_FUNCTION_LOGICAL_PREFIX):
                answer = session.client("lambda").get_function_concurrency(
                    FunctionName=resource["PhysicalResourceId"]
                )
                return int(answer.get("ReservedConcurrentExecutions", 0))
    return 0


def _vpc_quota(session: boto3.Session) -> int:
    quotas = session.client("service-quotas")
    try:
        quota = quotas.get_service_quota(ServiceCode="vpc", QuotaCode=VPC_QUOTA_CODE)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchResourceException":
            raise
        quota = quotas.get_aws_default_service_quota(ServiceCode="vpc", QuotaCode=VPC_QUOTA_CODE)
    return int(quota["Quota"]["Value"])


def settings_from(context_args: Sequence[str]) -> Settings:
    """The stage's settings from cdk.json's context and ``-c key=value``, as the app reads them."""
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    for item in context_args:
        key, separator, value = item.partition("=")
        if not separator:
            raise SystemExit(f"preflight: -c takes key=value, not {item!r}")
        context[key] = value
    return Settings.from_context(App(context=context).node)


def run(context_args: Sequence[str], session: boto3.Session | None = None) -> int:
    """Print one line per problem (or that there is none); 1 when the deploy would fail."""
    try:
        settings = settings_from(context_args)
    except ValueError as error:
        print(f"FAIL  settings     {error}")
        return 1
    # The CDK CLI and GitHub's credentials action read AWS_REGION; botocore alone does not.
    session = session or boto3.Session(region_name=os.environ.get("AWS_REGION") or None)
    region = session.region_name
    if not region:
        print("FAIL  credentials  no region: set AWS_REGION (or the profile's region)")
        return 1
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (NoCredentialsError, ClientError, BotoCoreError) as error:
        print(f"FAIL  credentials  cannot sign in to AWS ({error}): set AWS_PROFILE or keys")
        return 1
    plan = plan_for(settings, region)
    print(f"Preflight of {plan.stack_name} in {region}, account {account}")
    notes: list[str] = []
    found = problems(plan, gather(session, plan, notes))
    for note in notes:
        print(f"NOTE  {note}")
    for problem in found:
        print(f"FAIL  {problem.check:<12} {problem.message}")
    if found:
        print(f"preflight: {len(found)} problem(s); nothing was deployed")
        return 1
    print("preflight: the account and region can take this stack")
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.preflight", description=__doc__)
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE")
    sys.exit(run(parser.parse_args(argv).context))


if __name__ == "__main__":
    main()

"""make preflight: the account and region are read (moto) and a deploy that would fail is refused.

moto 5.2.5 answers every call the preflight makes except Lambda's GetAccountSettings
("Not yet implemented"): the reserved-concurrency rule is tested on boto3-shaped facts,
and the call itself against botocore's Stubber with GetAccountSettings' documented shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from infra import preflight
from infra.preflight_rules import (
    PREFLIGHT_READ_ACTIONS,
    REQUIRED_BOOTSTRAP_VERSION,
    UNRESERVED_CONCURRENCY_MINIMUM,
    Facts,
    Plan,
    check_aurora,
    check_reserved_concurrency,
    check_stack_state,
    problems,
)
from infra.settings import Settings
from tests.infra.conftest import Synthesized

PROD = ["stage=prod", "allowedOrigins=https://app.example.com"]


@pytest.fixture
def account() -> Iterator[boto3.Session]:
    """A fresh moto account in us-east-1, bootstrapped for CDK."""
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        _bootstrap(session, REQUIRED_BOOTSTRAP_VERSION + 20)
        yield session


def _bootstrap(session: boto3.Session, version: int) -> None:
    session.client("ssm").put_parameter(
        Name=preflight.BOOTSTRAP_VERSION_PARAMETER,
        Value=str(version),
        Type="String",
        Overwrite=True,
    )


def _run(
    session: boto3.Session, context: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    code = preflight.run(context, session=session)
    return code, capsys.readouterr().out


def test_a_fresh_bootstrapped_account_passes(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(account, ["stage=dev"], capsys)
    assert code == 0, out
    assert "Preflight of UsersService-dev in us-east-1, account 123456789012" in out
    assert "FAIL" not in out


def test_a_zone_where_rds_proxy_does_not_run_is_refused_by_its_zone_id(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    # In moto's (and many real) accounts, us-east-1e is zone ID use1-az3.
    code, out = _run(account, ["stage=dev", "availabilityZones=a,e"], capsys)
    assert code == 1
    assert "us-east-1e is zone use1-az3" in out
    assert "-c availabilityZones=" in out
    assert "us-east-1a" not in out.split("FAIL", 1)[1]


def test_a_zone_the_region_does_not_have_is_refused(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(account, ["stage=dev", "availabilityZones=a,z"], capsys)
    assert code == 1
    assert "us-east-1z is not an available zone of us-east-1" in out


@pytest.mark.parametrize("version", [None, REQUIRED_BOOTSTRAP_VERSION - 1])
def test_a_missing_or_outdated_bootstrap_stack_is_refused(
    capsys: pytest.CaptureFixture[str], version: int | None
) -> None:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        if version is not None:
            _bootstrap(session, version)
        code, out = _run(session, ["stage=dev"], capsys)
    assert code == 1
    assert "FAIL  bootstrap" in out
    assert "cdk bootstrap" in out


def test_a_region_without_snapstart_or_rds_proxy_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with mock_aws():
        session = boto3.Session(region_name="ap-east-2")  # Asia Pacific (Taipei)
        _bootstrap(session, REQUIRED_BOOTSTRAP_VERSION)
        code, out = _run(session, ["stage=dev"], capsys)
    assert code == 1
    assert "ap-east-2 has no Lambda SnapStart and no RDS Proxy" in out


def test_names_kept_by_an_earlier_prod_tear_down_stop_a_new_stack(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = account.client("secretsmanager")
    secrets.create_secret(Name="users-prod/database", SecretString="{}")
    # A secret scheduled for deletion still holds its name.
    secrets.create_secret(Name="users-prod/database-app", SecretString="{}")
    secrets.delete_secret(SecretId="users-prod/database-app", RecoveryWindowInDays=7)
    account.client("logs").create_log_group(
        logGroupName="/aws/rds/instance/users-prod-db/postgresql"
    )
    code, out = _run(account, PROD, capsys)
    assert code == 1
    (line,) = [line for line in out.splitlines() if "FAIL  leftovers" in line]
    for name in (
        "users-prod/database,",
        "users-prod/database-app",
        "/aws/rds/instance/users-prod-db/postgresql",
    ):
        assert name in line
    # dev's names are its own: prod's leftovers do not stop dev.
    assert _run(account, ["stage=dev"], capsys)[0] == 0


def test_a_region_full_of_vpcs_is_refused_before_the_stack_creates_one(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    ec2 = account.client("ec2")
    for number in range(4):  # with the default VPC: 5, moto's quota
        ec2.create_vpc(CidrBlock=f"10.{number}.0.0/16")
    code, out = _run(account, ["stage=dev"], capsys)
    assert code == 1
    assert "already has 5 VPCs of its quota of 5" in out


def test_unreadable_concurrency_is_a_note_not_a_failure(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    # moto has no GetAccountSettings; a real caller without lambda:GetAccountSettings alike.
    code, out = _run(account, ["stage=dev", "reservedConcurrency=50"], capsys)
    assert code == 0, out
    assert "NOTE  could not read the account's concurrency" in out


def test_settings_the_app_refuses_fail_the_preflight_too(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(account, ["stage=prod"], capsys)
    assert code == 1
    assert "FAIL  settings" in out
    assert "allowedOrigins" in out


def test_no_region_is_a_clear_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, out = _run(boto3.Session(), ["stage=dev"], capsys)
    assert code == 1
    assert "set AWS_REGION" in out


def _plan(reserved: int | None) -> Plan:
    return Plan(
        stack_name="UsersService-prod",
        region="us-east-1",
        zone_names=("us-east-1a", "us-east-1b"),
        reserved_concurrency=reserved,
        retained_names=(),
    )


@pytest.mark.parametrize(
    ("unreserved", "own", "wanted", "refused"),
    [
        (10, 0, 70, True),  # a new account: 10 in all, nothing to reserve
        (10, 0, None, False),  # the default reserves nothing: always grantable
        (1000, 0, 900, False),
        (1000, 0, 901, True),
        (130, 70, 100, False),  # a redeploy gives its own 70 back first
        (130, 70, 101, True),
    ],
)
def test_a_reservation_must_leave_lambdas_hundred_unreserved(
    unreserved: int, own: int, wanted: int | None, refused: bool
) -> None:
    facts = Facts(unreserved_concurrency=unreserved, function_reservation=own)
    found = check_reserved_concurrency(_plan(wanted), facts)
    assert bool(found) is refused
    if refused:
        (problem,) = found
        grantable = max(unreserved + own - UNRESERVED_CONCURRENCY_MINIMUM, 0)
        assert f"can reserve at most {grantable}" in problem.message
        assert "reservedConcurrency=none" in problem.message


def test_unreserved_concurrency_is_read_from_get_account_settings() -> None:
    client = boto3.client("lambda", region_name="us-east-1")
    answer = {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": 10,
            "UnreservedConcurrentExecutions": 10,
        },
        "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
    }
    with Stubber(client) as stub:
        stub.add_response("get_account_settings", answer, {})
        assert preflight.unreserved_concurrency(client) == 10


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback --stack-name UsersService-prod"),
        ("UPDATE_IN_PROGRESS", "wait for that operation to finish"),
        ("DELETE_FAILED", "finish the deletion"),
    ],
)
def test_a_stack_cloudformation_cannot_update_is_refused(status: str, advice: str) -> None:
    (problem,) = check_stack_state(_plan(None), Facts(stack_status=status))
    assert advice in problem.message


def test_a_healthy_stack_and_its_own_names_pass() -> None:
    facts = Facts(
        zone_ids={"us-east-1a": "use1-az6", "us-east-1b": "use1-az1"},
        bootstrap_version=REQUIRED_BOOTSTRAP_VERSION,
        stack_status="UPDATE_COMPLETE",
        existing_names=("users-prod-db",),  # the stack's own, not leftovers
        vpcs=5,
        vpc_quota=5,  # the stack's VPC is one of them
    )
    assert problems(_plan(None), facts) == []


def test_the_bootstrap_version_is_the_one_the_templates_check(dev: Synthesized) -> None:
    rule: Any = dev.template.to_json()["Rules"]["CheckBootstrapVersion"]
    (assertion,) = rule["Assertions"]
    refused = assertion["Assert"]["Fn::Not"][0]["Fn::Contains"][0]
    assert max(int(version) for version in refused) + 1 == REQUIRED_BOOTSTRAP_VERSION


@pytest.mark.parametrize("option", ["prod", "aurora_prod"])
def test_the_names_checked_are_every_fixed_name_prod_keeps(
    option: str, request: pytest.FixtureRequest
) -> None:
    prod: Synthesized = request.getfixturevalue(option)
    name_properties = (
        "DBInstanceIdentifier",
        "DBClusterIdentifier",
        "LogGroupName",
        "Name",
        "BucketName",
        "TopicName",
    )
    kept = {
        resource["Properties"][key]
        for resource in prod.template.to_json()["Resources"].values()
        if resource.get("DeletionPolicy") == "Retain"
        for key in name_properties
        if isinstance(resource.get("Properties", {}).get(key), str)
    }
    settings = Settings.from_context(prod.app.node)
    assert kept == set(preflight.plan_for(settings, "us-east-1").retained_names)


def test_the_region_comes_from_aws_region_as_the_cdk_cli_reads_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with mock_aws():
        _bootstrap(boto3.Session(region_name="eu-west-1"), REQUIRED_BOOTSTRAP_VERSION)
        code = preflight.run(["stage=dev"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Preflight of UsersService-dev in eu-west-1" in out


def test_every_call_a_run_makes_is_a_read_the_deploy_roles_are_granted(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    """Record each API call of a fresh-stack run and of a redeploy with a reservation."""
    made: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        prefix = model.service_model.signing_name
        made.add(f"{prefix}:{model.name}")

    account.events.register("before-call.*.*", record)
    _run(account, PROD, capsys)
    role = account.client("iam").create_role(
        RoleName="api", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    function = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.13",
            "Handler": "index.handler",
            "Role": role,
            "Code": {"ZipFile": "def handler(event, context): pass"},
        },
    }
    account.client("cloudformation").create_stack(
        StackName="UsersService-prod",
        TemplateBody=json.dumps({"Resources": {"ApiFunction6BF808ED": function}}),
    )
    _run(account, [*PROD, "reservedConcurrency=5"], capsys)
    _run(account, [*PROD, "database=aurora"], capsys)
    made.discard("sts:GetCallerIdentity")  # needs no permission
    for setup in ("ssm:PutParameter", "iam:CreateRole", "cloudformation:CreateStack"):
        made.discard(setup)
    # The default quota is read only where the account has no applied value (not in moto).
    assert made == set(PREFLIGHT_READ_ACTIONS) - {"servicequotas:GetAWSDefaultServiceQuota"}


def test_an_aurora_cluster_kept_by_a_prod_tear_down_stops_a_new_stack(
    account: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    account.client("rds").create_db_cluster(
        DBClusterIdentifier="users-prod-cluster",
        Engine="aurora-postgresql",
        MasterUsername="users_admin",
        MasterUserPassword="not-a-real-one-1",
    )
    code, out = _run(account, [*PROD, "database=aurora"], capsys)
    assert code == 1
    (line,) = [line for line in out.splitlines() if "FAIL  leftovers" in line]
    assert "users-prod-cluster" in line
    # The instance option's names are others: its deploy is not stopped by the cluster.
    assert "FAIL  leftovers" not in _run(account, PROD, capsys)[1]


def _aurora_plan() -> Plan:
    return Plan(
        stack_name="UsersService-dev",
        region="us-east-1",
        zone_names=("us-east-1a", "us-east-1b"),
        reserved_concurrency=None,
        retained_names=(),
        aurora_engine_version="17.4",
    )


@pytest.mark.parametrize(("offered", "refused"), [(False, True), (True, False), (None, False)])
def test_aurora_needs_serverless_v2_of_its_engine_version_in_the_region(
    offered: bool | None, refused: bool
) -> None:
    found = check_aurora(_aurora_plan(), Facts(serverless_v2_offered=offered))
    assert bool(found) is refused
    if refused:
        (problem,) = found
        assert "Aurora PostgreSQL 17.4" in problem.message
        assert "-c database=instance" in problem.message


def test_the_serverless_v2_offer_is_read_from_the_orderable_instance_options() -> None:
    client = boto3.client("rds", region_name="us-east-1")
    question = {
        "Engine": "aurora-postgresql",
        "EngineVersion": "17.4",
        "DBInstanceClass": "db.serverless",
        "MaxRecords": 20,
    }
    option = {"Engine": "aurora-postgresql", "EngineVersion": "17.4"}
    with Stubber(client) as stub:
        stub.add_response(
            "describe_orderable_db_instance_options",
            {"OrderableDBInstanceOptions": [{**option, "DBInstanceClass": "db.serverless"}]},
            question,
        )
        stub.add_response(
            "describe_orderable_db_instance_options", {"OrderableDBInstanceOptions": []}, question
        )
        assert preflight.serverless_v2_offered(client, "17.4") is True
        assert preflight.serverless_v2_offered(client, "17.4") is False

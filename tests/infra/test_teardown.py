"""make destroy STAGE=prod: the stack goes, the data and everything it stands on stay.

CloudFormation deletes a stack's resources in reverse dependency order and fails when a
resource it deletes is still used: a retained database keeps its subnets, so deleting
those (and the VPC) would end the stack in DELETE_FAILED. So every resource the database
refers to, directly or through another one, must be retained too.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synthesized

# What prod keeps on purpose: the data, and where users sign in.
DATA = ("AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::Cognito::UserPool")
# With -c database=aurora the data is the cluster's (its writer and reader are instances).
AURORA_DATA = (*DATA, "AWS::RDS::DBCluster")
# What a kept database stands on, whichever the option.
STANDS_ON = {
    "AWS::RDS::DBSubnetGroup",
    "AWS::EC2::Subnet",
    "AWS::EC2::VPC",
    "AWS::EC2::SecurityGroup",
    "AWS::SecretsManager::Secret",
}


def _references(value: Any) -> set[str]:
    """Logical ids a template value refers to (Ref, Fn::GetAtt, ${Id} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    elif isinstance(value, str) and "${" in value:
        found |= {part.split("}")[0].split(".")[0] for part in value.split("${")[1:]}
    return found


def _closure(resources: dict[str, Any], start: str) -> set[str]:
    """``start`` and every resource it refers to, transitively (pseudo parameters aside)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        logical_id = todo.pop()
        if logical_id in seen or logical_id not in resources:
            continue
        seen.add(logical_id)
        todo.extend(_references(resources[logical_id].get("Properties", {})))
    return seen


def _kept(synth: Synthesized, data: tuple[str, ...] = DATA) -> set[str]:
    resources = synth.template.to_json()["Resources"]
    return {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] in data and resource.get("DeletionPolicy") == "Retain"
    }


def _databases(synth: Synthesized) -> list[str]:
    """The cluster and its instances (Aurora), or the instance."""
    return [
        *synth.resources("AWS::RDS::DBCluster"),
        *synth.resources("AWS::RDS::DBInstance"),
    ]


def test_prod_keeps_its_data(prod: Synthesized) -> None:
    resources = prod.template.to_json()["Resources"]
    assert {resources[logical_id]["Type"] for logical_id in _kept(prod)} == set(DATA)


def test_prod_aurora_keeps_the_cluster_its_instances_and_the_other_data(
    aurora_prod: Synthesized,
) -> None:
    resources = aurora_prod.template.to_json()["Resources"]
    kept = _kept(aurora_prod, AURORA_DATA)
    assert {resources[logical_id]["Type"] for logical_id in kept} == set(AURORA_DATA)
    assert set(_databases(aurora_prod)) <= kept


@pytest.mark.parametrize(
    ("option", "parameters"),
    [("prod", "AWS::RDS::DBParameterGroup"), ("aurora_prod", "AWS::RDS::DBClusterParameterGroup")],
)
def test_everything_the_kept_database_stands_on_is_kept_too(
    option: str, parameters: str, request: pytest.FixtureRequest
) -> None:
    synth: Synthesized = request.getfixturevalue(option)
    resources = synth.template.to_json()["Resources"]
    needed = set().union(*(_closure(resources, database) for database in _databases(synth)))
    types = {resources[logical_id]["Type"] for logical_id in needed}
    # The chain that failed the tear-down: instance -> subnet group -> subnets -> VPC.
    assert {*STANDS_ON, parameters} <= types
    left = {
        logical_id
        for logical_id in needed
        if resources[logical_id].get("DeletionPolicy") != "Retain"
    }
    assert left == set(), f"deleting these fails while the kept database uses them: {left}"


@pytest.mark.parametrize("option", ["prod", "aurora_prod"])
def test_nothing_else_of_the_network_is_kept(option: str, request: pytest.FixtureRequest) -> None:
    """Route tables, endpoints and the functions' security groups go with the stack."""
    synth: Synthesized = request.getfixturevalue(option)
    resources = synth.template.to_json()["Resources"]
    needed = set().union(*(_closure(resources, database) for database in _databases(synth)))
    for logical_id, resource in resources.items():
        if resource["Type"].startswith("AWS::EC2::") and logical_id not in needed:
            assert resource.get("DeletionPolicy") != "Retain", logical_id


@pytest.mark.parametrize("option", ["dev", "aurora_dev"])
def test_dev_keeps_nothing(option: str, request: pytest.FixtureRequest) -> None:
    resources = request.getfixturevalue(option).template.to_json()["Resources"]
    kept = {
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("DeletionPolicy") == "Retain"
    }
    assert kept == set()

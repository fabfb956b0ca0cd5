"""make destroy STAGE=prod: the stack goes, the data and everything it stands on stay.

CloudFormation deletes a stack's resources in reverse dependency order and fails when a
resource it deletes is still used: a retained database keeps its subnets, so deleting
those (and the VPC) would end the stack in DELETE_FAILED. So every resource the database
refers to, directly or through another one, must be retained too.
"""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synthesized

# What prod keeps on purpose: the data, and where users sign in.
DATA = ("AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::Cognito::UserPool")


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


def _kept(synth: Synthesized) -> set[str]:
    resources = synth.template.to_json()["Resources"]
    return {
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] in DATA and resource.get("DeletionPolicy") == "Retain"
    }


def test_prod_keeps_its_data(prod: Synthesized) -> None:
    resources = prod.template.to_json()["Resources"]
    assert {resources[logical_id]["Type"] for logical_id in _kept(prod)} == set(DATA)


def test_everything_the_kept_database_stands_on_is_kept_too(prod: Synthesized) -> None:
    resources = prod.template.to_json()["Resources"]
    (database,) = prod.resources("AWS::RDS::DBInstance")
    needed = _closure(resources, database)
    types = {resources[logical_id]["Type"] for logical_id in needed}
    # The chain that failed the tear-down: instance -> subnet group -> subnets -> VPC.
    assert {
        "AWS::RDS::DBSubnetGroup",
        "AWS::EC2::Subnet",
        "AWS::EC2::VPC",
        "AWS::EC2::SecurityGroup",
        "AWS::RDS::DBParameterGroup",
        "AWS::SecretsManager::Secret",
    } <= types
    left = {
        logical_id
        for logical_id in needed
        if resources[logical_id].get("DeletionPolicy") != "Retain"
    }
    assert left == set(), f"deleting these fails while the kept database uses them: {left}"


def test_nothing_else_of_the_network_is_kept(prod: Synthesized) -> None:
    """Route tables, endpoints and the functions' security groups go with the stack."""
    resources = prod.template.to_json()["Resources"]
    (database,) = prod.resources("AWS::RDS::DBInstance")
    needed = _closure(resources, database)
    for logical_id, resource in resources.items():
        if resource["Type"].startswith("AWS::EC2::") and logical_id not in needed:
            assert resource.get("DeletionPolicy") != "Retain", logical_id


def test_dev_keeps_nothing(dev: Synthesized) -> None:
    resources = dev.template.to_json()["Resources"]
    kept = {
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("DeletionPolicy") == "Retain"
    }
    assert kept == set()

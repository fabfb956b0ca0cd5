"""Network: private subnets in two AZs, no NAT, endpoints, a tight security-group chain."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.infra.conftest import PROD_AVAILABILITY_ZONES, Synthesized


def _egress_rules(dev: Synthesized, group: Any) -> list[dict[str, Any]]:
    group_id = dev.logical_id(group)
    return [
        resource["Properties"]
        for resource in dev.resources("AWS::EC2::SecurityGroupEgress").values()
        if resource["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]


def _ingress_rules(dev: Synthesized, group: Any) -> list[dict[str, Any]]:
    group_id = dev.logical_id(group)
    return [
        resource["Properties"]
        for resource in dev.resources("AWS::EC2::SecurityGroupIngress").values()
        if resource["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]


def test_vpc_has_two_isolated_subnets_and_no_internet_route(dev: Synthesized) -> None:
    dev.template.resource_count_is("AWS::EC2::VPC", 1)
    subnets = dev.resources("AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    # Zone letters joined to the deploy region: explicit, and no lookup at synth.
    zones = [s["Properties"]["AvailabilityZone"] for s in subnets.values()]
    assert sorted(zones, key=str) == [
        {"Fn::Join": ["", [{"Ref": "AWS::Region"}, "a"]]},
        {"Fn::Join": ["", [{"Ref": "AWS::Region"}, "b"]]},
    ]
    dev.template.resource_count_is("AWS::EC2::NatGateway", 0)
    dev.template.resource_count_is("AWS::EC2::InternetGateway", 0)
    dev.template.resource_count_is("AWS::EC2::EIP", 0)


def test_availability_zones_come_from_context(prod: Synthesized) -> None:
    subnets = prod.resources("AWS::EC2::Subnet").values()
    zones = sorted(s["Properties"]["AvailabilityZone"] for s in subnets)
    assert zones == sorted(PROD_AVAILABILITY_ZONES)
    (proxy,) = prod.resources("AWS::RDS::DBProxy").values()
    assert len(proxy["Properties"]["VpcSubnetIds"]) == len(PROD_AVAILABILITY_ZONES)


def test_vpc_endpoints_for_s3_gateway_and_secrets_manager_interface(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Gateway",
            "ServiceName": Match.object_like(
                {"Fn::Join": ["", Match.array_with([Match.string_like_regexp(r"\.s3$")])]}
            ),
        },
    )
    dev.template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Interface",
            "ServiceName": Match.object_like(
                {"Fn::Join": ["", Match.array_with([Match.string_like_regexp("secretsmanager")])]}
            ),
            "PrivateDnsEnabled": True,
            "SecurityGroupIds": [
                {
                    "Fn::GetAtt": [
                        dev.logical_id(dev.stack.network.endpoint_security_group),
                        "GroupId",
                    ]
                }
            ],
        },
    )


def test_cognito_is_reached_through_an_interface_endpoint_for_the_stacks_pool_only(
    dev: Synthesized,
) -> None:
    endpoint = dev.stack.network.cognito_endpoint
    properties = dev.template.to_json()["Resources"][dev.logical_id(endpoint)]["Properties"]
    group = dev.stack.network.cognito_endpoint_security_group

    assert properties["VpcEndpointType"] == "Interface"
    assert properties["PrivateDnsEnabled"] is True
    assert properties["ServiceName"]["Fn::Join"][1][-1] == ".cognito-idp"
    assert properties["SecurityGroupIds"] == [{"Fn::GetAtt": [dev.logical_id(group), "GroupId"]}]
    (statement,) = properties["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == {
        "Fn::GetAtt": [dev.logical_id(dev.stack.auth.user_pool), "Arn"]
    }
    assert all(
        action.startswith("cognito-idp:Admin") or action == "cognito-idp:ListUsers"
        for action in statement["Action"]
    )
    # Only the API function and the sweeper (which share a group) reach it, on HTTPS.
    function_group = dev.logical_id(dev.stack.network.function_security_group)
    assert [
        (rule["FromPort"], rule["SourceSecurityGroupId"]) for rule in _ingress_rules(dev, group)
    ] == [(443, {"Fn::GetAtt": [function_group, "GroupId"]})]


def test_the_user_pool_has_no_domain_so_privatelink_serves_it(dev: Synthesized) -> None:
    # A pool with a domain cannot be reached through the endpoint (infra/DEPLOY.md).
    dev.template.resource_count_is("AWS::Cognito::UserPoolDomain", 0)


def test_database_admits_only_the_proxy_migrations_and_rotation_on_postgres_port(
    dev: Synthesized,
) -> None:
    network = dev.stack.network
    rules = _ingress_rules(dev, network.database_security_group)
    instance_id = dev.logical_id(dev.stack.database.instance)
    assert len(rules) == 3
    for rule in rules:
        assert rule["IpProtocol"] == "tcp"
        assert rule["FromPort"] == rule["ToPort"] == {"Fn::GetAtt": [instance_id, "Endpoint.Port"]}
    assert {rule["SourceSecurityGroupId"]["Fn::GetAtt"][0] for rule in rules} == {
        dev.logical_id(network.proxy_security_group),
        dev.logical_id(network.migration_security_group),
        dev.logical_id(network.rotation_security_group),
    }
    dev.template.has_resource_properties(
        "AWS::RDS::DBInstance", {"Port": "5432", "VPCSecurityGroups": [Match.any_value()]}
    )


def test_proxy_admits_only_the_functions_on_postgres_port(dev: Synthesized) -> None:
    network = dev.stack.network
    rules = _ingress_rules(dev, network.proxy_security_group)
    assert len(rules) == 1
    assert rules[0]["FromPort"] == rules[0]["ToPort"] == 5432
    assert rules[0]["SourceSecurityGroupId"] == {
        "Fn::GetAtt": [dev.logical_id(network.function_security_group), "GroupId"]
    }


def test_no_security_group_allows_all_traffic_or_public_ingress(dev: Synthesized) -> None:
    for group in dev.resources("AWS::EC2::SecurityGroup").values():
        properties = group["Properties"]
        for rule in properties.get("SecurityGroupEgress", []):
            assert rule["IpProtocol"] != "-1", properties["GroupDescription"]
        for rule in properties.get("SecurityGroupIngress", []):
            assert "CidrIp" not in rule, properties["GroupDescription"]
    for rule in dev.resources("AWS::EC2::SecurityGroupEgress").values():
        assert rule["Properties"]["IpProtocol"] == "tcp"
    for rule in dev.resources("AWS::EC2::SecurityGroupIngress").values():
        assert "CidrIp" not in rule["Properties"]


def test_api_function_reaches_only_postgres_on_the_proxy_and_https(dev: Synthesized) -> None:
    group = dev.stack.network.function_security_group
    properties = dev.template.to_json()["Resources"][dev.logical_id(group)]["Properties"]
    inline = {
        (r["IpProtocol"], r["FromPort"], r.get("CidrIp")) for r in properties["SecurityGroupEgress"]
    }
    assert inline == {("tcp", 443, "0.0.0.0/0")}
    separate = [
        r["Properties"]
        for r in dev.resources("AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [dev.logical_id(group), "GroupId"]}
    ]
    # PostgreSQL to the proxy only; no Secrets Manager: the API reads no secret.
    assert [(r["FromPort"], r["DestinationSecurityGroupId"]) for r in separate] == [
        (5432, {"Fn::GetAtt": [dev.logical_id(dev.stack.network.proxy_security_group), "GroupId"]})
    ]


def test_migrations_reach_only_the_database_and_the_secrets_manager_endpoint(
    dev: Synthesized,
) -> None:
    network = dev.stack.network
    group_id = dev.logical_id(network.migration_security_group)
    assert "SecurityGroupEgress" not in dev.template.to_json()["Resources"][group_id]["Properties"]
    destinations = {
        rule["DestinationSecurityGroupId"]["Fn::GetAtt"][0]: rule
        for rule in _egress_rules(dev, network.migration_security_group)
    }
    assert set(destinations) == {
        dev.logical_id(network.database_security_group),
        dev.logical_id(network.endpoint_security_group),
    }
    assert destinations[dev.logical_id(network.endpoint_security_group)]["FromPort"] == 443


def test_proxy_reaches_the_database_and_the_secrets_manager_endpoint(dev: Synthesized) -> None:
    network = dev.stack.network
    destinations = {
        rule["DestinationSecurityGroupId"]["Fn::GetAtt"][0]: rule["FromPort"]
        for rule in _egress_rules(dev, network.proxy_security_group)
    }
    instance_port = {"Fn::GetAtt": [dev.logical_id(dev.stack.database.instance), "Endpoint.Port"]}
    assert destinations == {
        dev.logical_id(network.database_security_group): instance_port,
        dev.logical_id(network.endpoint_security_group): 443,
    }


def test_rotation_reaches_only_the_database_and_the_secrets_manager_endpoint(
    dev: Synthesized,
) -> None:
    network = dev.stack.network
    group_id = dev.logical_id(network.rotation_security_group)
    properties = dev.template.to_json()["Resources"][group_id]["Properties"]
    assert "SecurityGroupEgress" not in properties  # no inline (allow-all) egress
    egress = {
        r["Properties"]["DestinationSecurityGroupId"]["Fn::GetAtt"][0]: r["Properties"]
        for r in dev.resources("AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    }
    assert set(egress) == {
        dev.logical_id(network.database_security_group),
        dev.logical_id(network.endpoint_security_group),
    }
    assert egress[dev.logical_id(network.endpoint_security_group)]["FromPort"] == 443
    endpoint_sources = {
        rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]
        for rule in _ingress_rules(dev, network.endpoint_security_group)
    }
    assert endpoint_sources == {
        dev.logical_id(network.migration_security_group),
        dev.logical_id(network.proxy_security_group),
        group_id,
    }


def test_vpc_flow_logs_record_rejected_traffic(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::EC2::FlowLog", {"ResourceType": "VPC", "TrafficType": "REJECT"}
    )

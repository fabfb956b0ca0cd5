"""Database: encrypted private PostgreSQL with forced TLS, behind a TLS-only RDS Proxy."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized


def test_instance_is_postgres_encrypted_private_and_backed_up(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "EngineVersion": Match.string_like_regexp(r"^18"),
            "StorageEncrypted": True,
            "PubliclyAccessible": False,
            "BackupRetentionPeriod": 1,
            "DBSubnetGroupName": {"Ref": Match.string_like_regexp("DatabaseInstanceSubnetGroup")},
            "EnableCloudwatchLogsExports": ["postgresql"],
        },
    )


def test_parameter_group_forces_ssl(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::RDS::DBParameterGroup",
        {"Family": "postgres18", "Parameters": {"rds.force_ssl": "1"}},
    )


def test_credentials_are_a_generated_secret(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "GenerateSecretString": Match.object_like(
                {"GenerateStringKey": "password", "SecretStringTemplate": Match.any_value()}
            )
        },
    )
    properties = dev.resources("AWS::RDS::DBInstance")
    (instance,) = properties.values()
    assert "MasterUserPassword" in instance["Properties"]  # a resolve of the secret
    assert "resolve:secretsmanager" in str(instance["Properties"]["MasterUserPassword"])


def test_dev_database_is_destroyed_with_the_stack(dev: Synthesized) -> None:
    dev.template.has_resource(
        "AWS::RDS::DBInstance",
        {
            "DeletionPolicy": "Delete",
            "Properties": Match.object_like({"DeletionProtection": False}),
        },
    )


def test_prod_database_is_protected_retained_and_multi_az(prod: Synthesized) -> None:
    prod.template.has_resource(
        "AWS::RDS::DBInstance",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like(
                {"DeletionProtection": True, "MultiAZ": True, "BackupRetentionPeriod": 7}
            ),
        },
    )


def test_proxy_requires_tls_and_uses_the_secret(dev: Synthesized) -> None:
    secret_id = dev.logical_id(dev.stack.database.instance.node.find_child("Secret"))
    dev.template.has_resource_properties(
        "AWS::RDS::DBProxy",
        {
            "EngineFamily": "POSTGRESQL",
            "RequireTLS": True,
            "Auth": [
                Match.object_like({"SecretArn": {"Ref": dev.logical_id(dev.stack.database.secret)}})
            ],
            "VpcSecurityGroupIds": [
                {
                    "Fn::GetAtt": [
                        dev.logical_id(dev.stack.network.proxy_security_group),
                        "GroupId",
                    ]
                }
            ],
        },
    )
    assert "DatabaseInstanceSecret" in secret_id
    dev.template.has_resource_properties(
        "AWS::RDS::DBProxyTargetGroup",
        {"DBInstanceIdentifiers": [{"Ref": dev.logical_id(dev.stack.database.instance)}]},
    )


def test_prod_keeps_the_secret_and_parameter_group_of_the_retained_database(
    prod: Synthesized,
) -> None:
    for resource_type in ("AWS::SecretsManager::Secret", "AWS::RDS::DBParameterGroup"):
        prod.template.has_resource(resource_type, {"DeletionPolicy": "Retain"})


def test_secret_rotates_every_30_days_by_the_hosted_postgres_single_user_function(
    dev: Synthesized,
) -> None:
    database = dev.stack.database
    (schedule,) = dev.resources("AWS::SecretsManager::RotationSchedule").values()
    properties = schedule["Properties"]
    assert properties["SecretId"] == {"Ref": dev.logical_id(database.secret)}
    assert properties["RotationRules"] == {"ScheduleExpression": "rate(30 days)"}
    # The first rotation waits for the schedule instead of racing the deploy's migration.
    assert properties["RotateImmediatelyOnUpdate"] is False
    (application_id,) = dev.resources("AWS::Serverless::Application")
    assert properties["RotationLambdaARN"] == {
        "Fn::GetAtt": [application_id, "Outputs.RotationLambdaARN"]
    }
    mappings = json.dumps(dev.template.to_json()["Mappings"])
    assert "SecretsManagerRDSPostgreSQLRotationSingleUser" in mappings


def test_rotation_function_runs_in_the_isolated_subnets_with_its_security_group(
    dev: Synthesized,
) -> None:
    network = dev.stack.network
    (application,) = dev.resources("AWS::Serverless::Application").values()
    parameters = application["Properties"]["Parameters"]
    subnet_refs = parameters["vpcSubnetIds"]["Fn::Join"][1][::2]
    assert {ref["Ref"] for ref in subnet_refs} == {
        dev.logical_id(subnet) for subnet in network.vpc.isolated_subnets
    }
    assert parameters["vpcSecurityGroupIds"] == {
        "Fn::GetAtt": [dev.logical_id(network.rotation_security_group), "GroupId"]
    }
    # The default hostname: the interface endpoint's private DNS answers it inside the VPC.
    assert parameters["endpoint"]["Fn::Join"][1][0] == "https://secretsmanager."


def test_prod_rotates_the_retained_secret_too(prod: Synthesized) -> None:
    prod.template.resource_count_is("AWS::SecretsManager::RotationSchedule", 1)

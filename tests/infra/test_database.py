"""Database: encrypted private PostgreSQL with forced TLS, behind a TLS and IAM RDS Proxy."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from infra.capacity import PROXY_MAX_CONNECTIONS_PERCENT
from infra.database import ENGINE_MAJOR_VERSION
from tests.infra.conftest import Synthesized


def _schedules(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """Rotation schedules by the logical id of the secret they rotate."""
    return {
        schedule["Properties"]["SecretId"]["Ref"]: schedule["Properties"]
        for schedule in synth.resources("AWS::SecretsManager::RotationSchedule").values()
    }


def test_instance_is_postgres_encrypted_private_and_backed_up(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "EngineVersion": Match.string_like_regexp(rf"^{ENGINE_MAJOR_VERSION}"),
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
        {"Family": f"postgres{ENGINE_MAJOR_VERSION}", "Parameters": {"rds.force_ssl": "1"}},
    )


def test_engine_is_the_major_version_rds_proxy_supports() -> None:
    # AWS's table of RDS Proxy engine versions (infra/DEPLOY.md, "Engine version").
    assert ENGINE_MAJOR_VERSION == "17"


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


def test_proxy_requires_tls_and_iam_and_holds_only_the_app_role_secret(
    dev: Synthesized,
) -> None:
    secret_id = dev.logical_id(dev.stack.database.instance.node.find_child("Secret"))
    dev.template.has_resource_properties(
        "AWS::RDS::DBProxy",
        {
            "EngineFamily": "POSTGRESQL",
            "RequireTLS": True,
            "IdleClientTimeout": 300,
            "Auth": [
                {
                    "AuthScheme": "SECRETS",
                    "IAMAuth": "REQUIRED",
                    "SecretArn": {"Ref": dev.logical_id(dev.stack.database.app_secret)},
                }
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
        {
            "DBInstanceIdentifiers": [{"Ref": dev.logical_id(dev.stack.database.instance)}],
            "ConnectionPoolConfigurationInfo": {
                "MaxConnectionsPercent": PROXY_MAX_CONNECTIONS_PERCENT
            },
        },
    )


def test_proxy_reads_only_the_app_role_secret(dev: Synthesized) -> None:
    database = dev.stack.database
    role_id = dev.logical_id(database.proxy.node.find_child("IAMRole"))
    resources = [
        statement["Resource"]
        for policy in dev.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert resources == [{"Ref": dev.logical_id(database.app_secret)}]


def test_app_role_secret_is_generated_for_users_app_and_attached_to_the_instance(
    dev: Synthesized, prod: Synthesized
) -> None:
    database = dev.stack.database
    attachment = dev.template.to_json()["Resources"][dev.logical_id(database.app_secret)]
    assert attachment["Type"] == "AWS::SecretsManager::SecretTargetAttachment"
    assert attachment["Properties"]["TargetId"] == {"Ref": dev.logical_id(database.instance)}
    secret = dev.template.to_json()["Resources"][attachment["Properties"]["SecretId"]["Ref"]]
    template = json.loads(secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"])
    assert template == {"username": "users_app"}
    assert secret["Properties"]["Name"] == "users-dev/database-app"
    prod.template.has_resource(
        "AWS::SecretsManager::Secret",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like({"Name": "users-prod/database-app"}),
        },
    )


def test_proxy_is_created_after_the_first_migration_created_the_app_role(
    dev: Synthesized,
) -> None:
    trigger_id = dev.logical_id(dev.stack.migrations.trigger.node.default_child)
    for resource_type in ("AWS::RDS::DBProxy", "AWS::RDS::DBProxyTargetGroup"):
        (resource,) = dev.resources(resource_type).values()
        assert trigger_id in resource["DependsOn"], resource_type


def test_app_secret_rotation_is_scheduled_after_the_migration_created_its_role(
    dev: Synthesized,
) -> None:
    trigger_id = dev.logical_id(dev.stack.migrations.trigger.node.default_child)
    app_secret = dev.logical_id(dev.stack.database.app_secret)
    (schedule,) = [
        resource
        for resource in dev.resources("AWS::SecretsManager::RotationSchedule").values()
        if resource["Properties"]["SecretId"] == {"Ref": app_secret}
    ]
    assert trigger_id in schedule["DependsOn"]
    # The master user exists with the instance: its rotation need not wait.
    (master,) = [
        resource
        for resource in dev.resources("AWS::SecretsManager::RotationSchedule").values()
        if resource["Properties"]["SecretId"] != {"Ref": app_secret}
    ]
    assert trigger_id not in master.get("DependsOn", [])


def test_prod_keeps_the_secret_and_parameter_group_of_the_retained_database(
    prod: Synthesized,
) -> None:
    for resource_type in ("AWS::SecretsManager::Secret", "AWS::RDS::DBParameterGroup"):
        prod.template.has_resource(resource_type, {"DeletionPolicy": "Retain"})


def test_both_secrets_rotate_every_30_days_by_the_hosted_single_user_function(
    dev: Synthesized,
) -> None:
    database = dev.stack.database
    schedules = _schedules(dev)
    assert set(schedules) == {
        dev.logical_id(database.secret),
        dev.logical_id(database.app_secret),
    }
    applications = set(dev.resources("AWS::Serverless::Application"))
    assert len(applications) == 2
    for properties in schedules.values():
        assert properties["RotationRules"] == {"ScheduleExpression": "rate(30 days)"}
        # The first rotation waits for the schedule instead of racing the deploy's
        # migration (which creates the app role with the secret's first password).
        assert properties["RotateImmediatelyOnUpdate"] is False
        (application_id, output) = properties["RotationLambdaARN"]["Fn::GetAtt"]
        assert application_id in applications
        assert output == "Outputs.RotationLambdaARN"
    mappings = json.dumps(dev.template.to_json()["Mappings"])
    # Single-user: the role changes its own password and keeps its name, which is the
    # name IAM authentication to the proxy grants (rds-db:connect .../users_app).
    assert "SecretsManagerRDSPostgreSQLRotationSingleUser" in mappings
    assert "MultiUser" not in mappings


def test_rotation_functions_run_in_the_isolated_subnets_with_their_security_group(
    dev: Synthesized,
) -> None:
    network = dev.stack.network
    for application in dev.resources("AWS::Serverless::Application").values():
        parameters = application["Properties"]["Parameters"]
        subnet_refs = parameters["vpcSubnetIds"]["Fn::Join"][1][::2]
        assert {ref["Ref"] for ref in subnet_refs} == {
            dev.logical_id(subnet) for subnet in network.vpc.isolated_subnets
        }
        assert parameters["vpcSecurityGroupIds"] == {
            "Fn::GetAtt": [dev.logical_id(network.rotation_security_group), "GroupId"]
        }
        # The default hostname: the endpoint's private DNS answers it inside the VPC.
        assert parameters["endpoint"]["Fn::Join"][1][0] == "https://secretsmanager."


def test_prod_rotates_the_retained_secrets_too(prod: Synthesized) -> None:
    prod.template.resource_count_is("AWS::SecretsManager::RotationSchedule", 2)

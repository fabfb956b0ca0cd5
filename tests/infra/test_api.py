"""API: the SnapStart function in the VPC, its alias, grants, and the HTTP API in front."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.infra.conftest import Synthesized


def _function(synth: Synthesized) -> dict[str, Any]:
    properties: dict[str, Any] = synth.template.to_json()["Resources"][
        synth.logical_id(synth.stack.api.function)
    ]["Properties"]
    return properties


def _policy_statements(synth: Synthesized, function: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(function.role)
    statements: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def test_function_runs_the_app_on_arm64_python_with_snapstart(dev: Synthesized) -> None:
    function = _function(dev)
    assert function["Handler"] == "lambda_app.handler.handler"
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == 1024
    assert function["Timeout"] <= 29  # below the HTTP API's integration timeout
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert "ReservedConcurrentExecutions" not in function


def test_function_runs_in_the_isolated_subnets_with_its_security_group(dev: Synthesized) -> None:
    vpc_config = _function(dev)["VpcConfig"]
    subnet_ids = {dev.logical_id(subnet) for subnet in dev.stack.network.vpc.isolated_subnets}
    assert {ref["Ref"] for ref in vpc_config["SubnetIds"]} == subnet_ids
    assert vpc_config["SecurityGroupIds"] == [
        {"Fn::GetAtt": [dev.logical_id(dev.stack.network.function_security_group), "GroupId"]}
    ]


def test_function_environment_holds_only_non_secret_settings(dev: Synthesized) -> None:
    variables = _function(dev)["Environment"]["Variables"]
    assert set(variables) == {
        "DB_SECRET_ARN",
        "DB_HOST",
        "DB_SSL",
        "S3_BUCKET",
        "API_BASE_PATH",
        "LOG_LEVEL",
        "AVATAR_MAX_BYTES",
        "PRESIGN_EXPIRES_SECONDS",
    }
    assert variables["DB_HOST"] == {
        "Fn::GetAtt": [dev.logical_id(dev.stack.database.proxy), "Endpoint"]
    }
    assert variables["DB_SECRET_ARN"] == {"Ref": dev.logical_id(dev.stack.database.secret)}
    assert variables["S3_BUCKET"] == {"Ref": dev.logical_id(dev.stack.storage.bucket)}
    assert variables["API_BASE_PATH"] == ""
    assert variables["DB_SSL"] == "true"
    assert "AWS_REGION" not in variables


def test_function_logs_json_to_a_log_group_with_retention(dev: Synthesized) -> None:
    logging = _function(dev)["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == "INFO"
    log_group_id = logging["LogGroup"]["Ref"]
    log_group = dev.template.to_json()["Resources"][log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == 7


def test_prod_sets_reserved_concurrency_from_context(prod: Synthesized) -> None:
    assert _function(prod)["ReservedConcurrentExecutions"] == 20
    log_group_id = _function(prod)["LoggingConfig"]["LogGroup"]["Ref"]
    assert prod.template.to_json()["Resources"][log_group_id]["Properties"]["RetentionInDays"] == 30


def test_alias_points_at_the_published_version(dev: Synthesized) -> None:
    dev.template.has_resource_properties(
        "AWS::Lambda::Alias",
        {
            "Name": "live",
            "FunctionName": {"Ref": dev.logical_id(dev.stack.api.function)},
            "FunctionVersion": {
                "Fn::GetAtt": [Match.string_like_regexp("ApiFunctionCurrentVersion"), "Version"]
            },
        },
    )


def test_superseded_versions_are_deleted(dev: Synthesized) -> None:
    for version in dev.resources("AWS::Lambda::Version").values():
        assert version.get("DeletionPolicy", "Delete") == "Delete"


def test_function_reads_only_its_database_secret(dev: Synthesized) -> None:
    statements = _policy_statements(dev, dev.stack.api.function)
    secret_statements = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert len(secret_statements) == 1
    assert secret_statements[0]["Resource"] == {"Ref": dev.logical_id(dev.stack.database.secret)}


def test_function_may_touch_only_objects_under_users_prefix(dev: Synthesized) -> None:
    statements = _policy_statements(dev, dev.stack.api.function)
    bucket_id = dev.logical_id(dev.stack.storage.bucket)
    s3_statements = {
        s["Sid"]: s for s in statements if any(str(a).startswith("s3:") for a in _list(s["Action"]))
    }
    assert set(s3_statements) == {"UserFilesObjects", "UserFilesList"}
    objects = s3_statements["UserFilesObjects"]
    assert sorted(objects["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert objects["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/users/*"]]
    }
    listing = s3_statements["UserFilesList"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["users/*"]}}
    assert all(s["Resource"] != "*" for s in statements)


def test_http_api_default_stage_invokes_the_alias(dev: Synthesized) -> None:
    alias_id = dev.logical_id(dev.stack.api.alias)
    dev.template.has_resource_properties(
        "AWS::ApiGatewayV2::Integration",
        {
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": {"Ref": alias_id},
            "PayloadFormatVersion": "2.0",
        },
    )
    dev.template.has_resource_properties(
        "AWS::ApiGatewayV2::Route", {"RouteKey": "$default", "AuthorizationType": "NONE"}
    )
    dev.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": alias_id},
            "Principal": "apigateway.amazonaws.com",
        },
    )


def test_default_stage_throttles_and_writes_json_access_logs(dev: Synthesized) -> None:
    stage = next(iter(dev.resources("AWS::ApiGatewayV2::Stage").values()))["Properties"]
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": 200,
        "ThrottlingRateLimit": 100,
    }
    log_settings = stage["AccessLogSettings"]
    assert log_settings["DestinationArn"]["Fn::GetAtt"][1] == "Arn"
    assert '"requestId":"$context.requestId"' in log_settings["Format"].replace(" ", "")


def test_outputs_name_the_api_url_bucket_and_migration_function(dev: Synthesized) -> None:
    outputs = dev.template.to_json()["Outputs"]
    assert {"ApiUrl", "BucketName", "MigrationFunctionName"} <= set(outputs)
    assert outputs["BucketName"]["Value"] == {"Ref": dev.logical_id(dev.stack.storage.bucket)}
    assert outputs["MigrationFunctionName"]["Value"] == {
        "Ref": dev.logical_id(dev.stack.migrations.function)
    }
    assert "execute-api" in str(outputs["ApiUrl"]["Value"])


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]

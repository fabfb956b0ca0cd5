"""API: the SnapStart function in the VPC, its alias, grants, and the HTTP API in front."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from infra.database import PROXY_IDLE_CLIENT_TIMEOUT
from tests.infra.conftest import Synthesized
from tests.infra.test_tracing import XRAY_ACTIONS


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
    # Unset unless asked: a new account cannot grant a reservation (DEPLOY.md).
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
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "DB_IAM_AUTH",
        "DB_SSL",
        "DB_POOL_RECYCLE",
        "S3_BUCKET",
        "COGNITO_USER_POOL_ID",
        "API_BASE_PATH",
        "LOG_LEVEL",
        "AVATAR_MAX_BYTES",
        "PRESIGN_EXPIRES_SECONDS",
        "API_DOCS",
        "METRICS_NAMESPACE",
        "POWERTOOLS_SERVICE_NAME",
        "TRACING",
    }
    assert variables["DB_HOST"] == {
        "Fn::GetAtt": [dev.logical_id(dev.stack.database.proxy), "Endpoint"]
    }
    assert variables["DB_PORT"] == "5432"
    assert variables["DB_NAME"] == "users"
    assert variables["DB_USER"] == "users_app"
    assert variables["DB_IAM_AUTH"] == "true"
    assert variables["S3_BUCKET"] == {"Ref": dev.logical_id(dev.stack.storage.bucket)}
    assert variables["COGNITO_USER_POOL_ID"] == {"Ref": dev.logical_id(dev.stack.auth.user_pool)}
    assert variables["API_BASE_PATH"] == ""
    assert variables["DB_SSL"] == "true"
    assert variables["API_DOCS"] == "true"
    assert "AWS_REGION" not in variables


def test_function_writes_metrics_to_a_namespace_per_stage(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth, namespace in ((dev, "UsersService-dev"), (prod, "UsersService-prod")):
        variables = _function(synth)["Environment"]["Variables"]
        assert variables["METRICS_NAMESPACE"] == namespace
        assert variables["POWERTOOLS_SERVICE_NAME"] == "users-api"


def test_function_needs_no_permission_to_publish_metrics(dev: Synthesized) -> None:
    # EMF metrics are log lines; CloudWatch Logs extracts them, no PutMetricData call.
    actions = {
        str(action)
        for statement in _policy_statements(dev, dev.stack.api.function)
        for action in _list(statement["Action"])
    }
    assert not any(action.startswith("cloudwatch:") for action in actions)


def test_prod_turns_the_api_docs_off(prod: Synthesized) -> None:
    assert _function(prod)["Environment"]["Variables"]["API_DOCS"] == "false"


def test_function_logs_json_to_a_log_group_with_retention(dev: Synthesized) -> None:
    logging = _function(dev)["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == "INFO"
    log_group_id = logging["LogGroup"]["Ref"]
    log_group = dev.template.to_json()["Resources"][log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == 7


def test_lambda_log_filter_never_drops_the_metric_lines(prod: Synthesized) -> None:
    # prod runs with logLevel=WARNING: the app filters its own logs, while Lambda keeps
    # INFO, the level it gives EMF lines (they carry no "level" of their own).
    variables = _function(prod)["Environment"]["Variables"]
    assert variables["LOG_LEVEL"] == "WARNING"
    assert _function(prod)["LoggingConfig"]["ApplicationLogLevel"] == "INFO"


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


def test_function_reads_no_secret(dev: Synthesized) -> None:
    statements = _policy_statements(dev, dev.stack.api.function)
    actions = {str(a) for s in statements for a in _list(s["Action"])}
    assert not any(a.startswith(("secretsmanager:", "kms:")) for a in actions)


def test_function_may_connect_to_the_proxy_only_as_the_app_role(dev: Synthesized) -> None:
    statements = _policy_statements(dev, dev.stack.api.function)
    (connect,) = [s for s in statements if s["Action"] == "rds-db:connect"]
    parts = connect["Resource"]["Fn::Join"][1]
    proxy_id = dev.logical_id(dev.stack.database.proxy)
    # arn:<partition>:rds-db:<region>:<account>:dbuser:<proxy resource id>/users_app
    assert ":dbuser:" in parts
    assert parts[-1] == "/users_app"
    assert parts[-2] == {
        "Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": [proxy_id, "DBProxyArn"]}]}]
    }


def test_pooled_connections_are_replaced_before_the_proxy_drops_idle_clients(
    dev: Synthesized,
) -> None:
    recycle = int(_function(dev)["Environment"]["Variables"]["DB_POOL_RECYCLE"])
    (proxy,) = dev.resources("AWS::RDS::DBProxy").values()
    idle_timeout = proxy["Properties"]["IdleClientTimeout"]
    assert idle_timeout == PROXY_IDLE_CLIENT_TIMEOUT.to_seconds()
    assert 0 < recycle < idle_timeout


def test_function_may_touch_only_objects_under_users_prefix(dev: Synthesized) -> None:
    statements = _policy_statements(dev, dev.stack.api.function)
    bucket_id = dev.logical_id(dev.stack.storage.bucket)
    s3_statements = {
        s["Sid"]: s for s in statements if any(str(a).startswith("s3:") for a in _list(s["Action"]))
    }
    assert set(s3_statements) == {"UserFilesObjects", "UserFilesList"}
    objects = s3_statements["UserFilesObjects"]
    assert sorted(objects["Action"]) == [
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert objects["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/users/*"]]
    }
    listing = s3_statements["UserFilesList"]
    assert sorted(listing["Action"]) == ["s3:ListBucket", "s3:ListBucketVersions"]
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["users/*"]}}
    # Active tracing's X-Ray statement is the one on "*" (tests/infra/test_tracing.py).
    assert all(s["Resource"] != "*" for s in statements if s["Action"] != XRAY_ACTIONS)


def _routes(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in synth.resources("AWS::ApiGatewayV2::Route").values()
    }


def test_every_route_invokes_the_alias(dev: Synthesized) -> None:
    alias_id = dev.logical_id(dev.stack.api.alias)
    (integration_id, integration) = next(
        iter(dev.resources("AWS::ApiGatewayV2::Integration").items())
    )
    dev.template.resource_count_is("AWS::ApiGatewayV2::Integration", 1)
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_id}
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    for route in _routes(dev).values():
        assert route["Target"] == {"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]}


def test_the_authorizer_checks_cognito_tokens_of_the_app_client(dev: Synthesized) -> None:
    auth = dev.stack.auth
    (authorizer,) = dev.resources("AWS::ApiGatewayV2::Authorizer").values()
    properties = authorizer["Properties"]
    assert properties["AuthorizerType"] == "JWT"
    assert properties["IdentitySource"] == ["$request.header.Authorization"]
    assert properties["JwtConfiguration"] == {
        "Audience": [{"Ref": dev.logical_id(auth.client)}],
        "Issuer": {
            "Fn::Join": [
                "",
                [
                    "https://cognito-idp.",
                    {"Ref": "AWS::Region"},
                    ".amazonaws.com/",
                    {"Ref": dev.logical_id(auth.user_pool)},
                ],
            ]
        },
    }


def test_default_route_and_every_non_public_route_need_a_jwt(
    dev: Synthesized, prod: Synthesized
) -> None:
    preflight = "OPTIONS /{proxy+}"
    for synth, public in (
        (dev, {"GET /health", "GET /docs", "GET /openapi.json", preflight}),
        (prod, {"GET /health", preflight}),
    ):
        routes = _routes(synth)
        assert "$default" in routes
        (authorizer_id,) = synth.resources("AWS::ApiGatewayV2::Authorizer")
        for key, route in routes.items():
            if key in public:
                assert route["AuthorizationType"] == "NONE", key
                assert "AuthorizerId" not in route, key
            else:
                assert route["AuthorizationType"] == "JWT", key
                assert route["AuthorizerId"] == {"Ref": authorizer_id}, key
        assert set(routes) == public | {"$default"}


def test_health_is_public_in_every_stage_and_docs_only_in_dev(
    dev: Synthesized, prod: Synthesized
) -> None:
    assert _routes(dev)["GET /health"]["AuthorizationType"] == "NONE"
    assert _routes(prod)["GET /health"]["AuthorizationType"] == "NONE"
    assert _routes(dev)["GET /docs"]["AuthorizationType"] == "NONE"
    assert _routes(dev)["GET /openapi.json"]["AuthorizationType"] == "NONE"
    assert "GET /docs" not in _routes(prod)
    assert "GET /openapi.json" not in _routes(prod)


def test_only_this_api_may_invoke_the_alias(dev: Synthesized) -> None:
    alias_id = dev.logical_id(dev.stack.api.alias)
    api_id = dev.logical_id(dev.stack.api.http_api)
    sweeper = {"Fn::GetAtt": [dev.logical_id(dev.stack.sweeper.function), "Arn"]}
    permissions = [
        p["Properties"]
        for p in dev.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] != sweeper  # its schedule's: tests/infra/test_sweeper.py
    ]
    # Nothing may invoke the unqualified function or any version but through the alias.
    assert permissions
    suffixes = set()
    for permission in permissions:
        assert permission["FunctionName"] == {"Ref": alias_id}
        assert permission["Action"] == "lambda:InvokeFunction"
        assert permission["Principal"] == "apigateway.amazonaws.com"
        parts = permission["SourceArn"]["Fn::Join"][1]
        assert parts[:8] == [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":execute-api:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":",
            {"Ref": api_id},
        ]
        suffixes.add(parts[8])
    # Stage and method wildcards, within this API: $default needs any path.
    assert suffixes == {
        "/*/*",
        "/*/*/health",
        "/*/*/docs",
        "/*/*/openapi.json",
        "/*/*/{proxy+}",
    }


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


def test_public_health_and_preflight_routes_have_their_own_tighter_throttles(
    dev: Synthesized, prod: Synthesized
) -> None:
    for synth in (dev, prod):
        (stage_id, stage) = next(iter(synth.resources("AWS::ApiGatewayV2::Stage").items()))
        properties = stage["Properties"]
        health = properties["RouteSettings"]["GET /health"]
        assert health == {"ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10}
        default = properties["DefaultRouteSettings"]
        assert health["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
        assert health["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"]
        preflight = properties["RouteSettings"]["OPTIONS /{proxy+}"]
        assert preflight == {"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}
        assert preflight["ThrottlingRateLimit"] < default["ThrottlingRateLimit"]
        assert set(properties["RouteSettings"]) == {"GET /health", "OPTIONS /{proxy+}"}
        # The stage names the routes by key, so the routes must exist first.
        for route in (synth.stack.api.public_routes["/health"], synth.stack.api.preflight_route):
            assert synth.logical_id(route) in stage["DependsOn"], stage_id


def test_access_logs_record_the_authorizer_error_and_the_caller(dev: Synthesized) -> None:
    stage = next(iter(dev.resources("AWS::ApiGatewayV2::Stage").values()))["Properties"]
    log_format = stage["AccessLogSettings"]["Format"].replace(" ", "")
    assert '"authorizerError":"$context.authorizer.error"' in log_format
    assert '"sub":"$context.authorizer.claims.sub"' in log_format


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

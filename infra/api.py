"""API: the FastAPI function (SnapStart, served through an alias) behind an HTTP API.

Every route needs a Cognito JWT (the API's default authorizer) except the public ones:
``GET /health`` always, ``GET /docs`` and ``GET /openapi.json`` in dev, and CORS
preflights (``OPTIONS /{proxy+}``), which browsers send without a token.
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.auth import Auth
from infra.database import APP_USERNAME, Database
from infra.functions import (
    TRACING_ENVIRONMENT,
    api_database_environment,
    bundle_function,
    metrics_safe_log_level,
)
from infra.network import Network
from infra.settings import Settings
from infra.storage import Storage
from lambda_app.middleware.cors import (
    CORS_ALLOWED_HEADERS,
    CORS_EXPOSED_HEADERS,
    CORS_MAX_AGE_SECONDS,
)

API_HANDLER = "lambda_app.handler.handler"
ALIAS_NAME = "live"
HEALTH_PATH = "/health"
DOCS_PATHS = ("/docs", "/openapi.json")
# An explicit OPTIONS route outranks $default, so preflights skip its JWT authorizer.
PREFLIGHT_PATH = "/{proxy+}"
# Browsers cache a preflight for CORS_MAX_AGE, so a few per second is plenty; anyone may send
# one without a token, so it gets its own limit like the health check.
PREFLIGHT_THROTTLE = {"ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}
# Powertools' "service" dimension of every metric the app writes.
METRICS_SERVICE_NAME = "users-api"
CORS_METHODS = (
    apigwv2.CorsHttpMethod.GET,
    apigwv2.CorsHttpMethod.POST,
    apigwv2.CorsHttpMethod.PATCH,
    apigwv2.CorsHttpMethod.DELETE,
    apigwv2.CorsHttpMethod.OPTIONS,
)
CORS_MAX_AGE = Duration.seconds(CORS_MAX_AGE_SECONDS)
# Context variables HTTP APIs support; requestId is mandatory for access logs.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "sub": "$context.authorizer.claims.sub",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class JsonAccessLogs:
    """Access log settings for an HTTP API stage: one JSON object per request."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT))


def cors_options(settings: Settings) -> apigwv2.CorsPreflightOptions:
    """Browser origins the bucket also allows; bearer tokens, so no credentials (cookies)."""
    return apigwv2.CorsPreflightOptions(
        allow_origins=list(settings.allowed_origins),
        allow_methods=list(CORS_METHODS),
        allow_headers=list(CORS_ALLOWED_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=CORS_MAX_AGE,
    )


class Api(Construct):
    """The API function, its ``live`` alias and the HTTP API that invokes the alias."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        network: Network,
        database: Database,
        storage: Storage,
        auth: Auth,
        settings: Settings,
    ) -> None:
        super().__init__(scope, construct_id)

        self.function = bundle_function(
            self,
            description="Users service API (FastAPI behind Mangum)",
            handler=API_HANDLER,
            code=code,
            network=network,
            security_group=network.function_security_group,
            settings=settings,
            memory_size=1024,
            timeout=Duration.seconds(25),
            environment={
                **api_database_environment(database, settings),
                "S3_BUCKET": storage.bucket.bucket_name,
                "COGNITO_USER_POOL_ID": auth.user_pool.user_pool_id,
                "API_BASE_PATH": "",
                "AVATAR_MAX_BYTES": str(settings.avatar_max_bytes),
                "PRESIGN_EXPIRES_SECONDS": str(settings.presign_expires_seconds),
                "API_DOCS": str(settings.api_docs).lower(),
                "METRICS_NAMESPACE": settings.metrics_namespace,
                "POWERTOOLS_SERVICE_NAME": METRICS_SERVICE_NAME,
                **TRACING_ENVIRONMENT,
            },
            log_level=metrics_safe_log_level(settings.log_level),
            # Lambda's platform reports carry the restore (cold start) and init durations
            # that the dashboard and the cold-starts query read; no metric has them.
            system_log_level=lambda_.SystemLogLevel[settings.system_log_level],
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
            reserved_concurrent_executions=settings.reserved_concurrency,
        )
        self.alias = lambda_.Alias(
            self, "Alias", alias_name=ALIAS_NAME, version=self.function.current_version
        )
        # An IAM token for the app role, signed in the function; no secret is read.
        database.proxy.grant_connect(self.function, APP_USERNAME)
        storage.grant_user_files(self.function)
        auth.grant_provisioning(self.function)

        # One integration for every route. HttpLambdaIntegration adds one invoke permission
        # per route, each scoped to this API's ARN ($default: any route of this API).
        integration = integrations.HttpLambdaIntegration(
            "LiveAlias",
            self.alias,
            payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
        )
        self.authorizer = authorizers.HttpUserPoolAuthorizer(
            "CognitoAuthorizer",
            auth.user_pool,
            user_pool_clients=[auth.client],
            identity_source=["$request.header.Authorization"],
        )
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"{settings.prefix}-api",
            description="Users service",
            create_default_stage=False,
            # $default, and so every path without a public route below, needs a valid JWT.
            default_integration=integration,
            default_authorizer=self.authorizer,
            cors_preflight=cors_options(settings),
        )
        public_paths = [HEALTH_PATH, *(DOCS_PATHS if settings.api_docs else ())]
        self.public_routes: dict[str, apigwv2.HttpRoute] = {}
        for path in public_paths:
            (route,) = self.http_api.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod.GET],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer(),
            )
            self.public_routes[path] = route
        # With CORS configured API Gateway answers preflights itself, but only once a
        # route without an authorizer matches: $default would demand a token first.
        (self.preflight_route,) = self.http_api.add_routes(
            path=PREFLIGHT_PATH,
            methods=[apigwv2.HttpMethod.OPTIONS],
            integration=integration,
            authorizer=apigwv2.HttpNoneAuthorizer(),
        )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        self.stage = self.http_api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=settings.throttle_rate_limit,
                burst_limit=settings.throttle_burst_limit,
            ),
            access_log_settings=JsonAccessLogs(access_logs),
        )
        self._throttle_public_routes(settings)

    @property
    def url(self) -> str:
        """Base URL of the ``$default`` stage."""
        return self.stage.url

    def _throttle_public_routes(self, settings: Settings) -> None:
        """Tighter limits on the token-less health check and preflights than on the API.

        Anyone may call them without a token (and each health check reaches the database),
        so their own route settings keep them from taking the capacity the others share.
        """
        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.route_settings = {
            f"GET {HEALTH_PATH}": {
                "ThrottlingRateLimit": settings.health_throttle_rate_limit,
                "ThrottlingBurstLimit": settings.health_throttle_burst_limit,
            },
            f"OPTIONS {PREFLIGHT_PATH}": PREFLIGHT_THROTTLE,
        }
        # API Gateway refuses route settings for a route that does not exist yet.
        self.stage.node.add_dependency(self.public_routes[HEALTH_PATH], self.preflight_route)

"""The users service stack: one construct per concern, wired like the architecture diagram.

browser -> Cognito user pool (sign in: ID/access token)
browser -> HTTP API (JWT authorizer; public, throttled GET /health)
        -> API function (alias "live", SnapStart)
            -> RDS Proxy (TLS, IAM token as users_app) -> RDS PostgreSQL, or Aurora's writer
            -> its read-only endpoint -> Aurora's reader (list pages; -c database=aurora)
            -> S3 bucket (users/*) via the gateway endpoint
            -> Cognito user pool (admin actions: identities) via the interface endpoint
RDS Proxy -> Secrets Manager (users_app's secret) via the interface endpoint
deploy  -> trigger -> migration function (master secret) -> RDS PostgreSQL, then the proxy
rotation functions (master and users_app secrets) -> RDS PostgreSQL, Secrets Manager
CloudWatch alarms (function, HTTP API, proxy, database) -> SNS topic (-> email)
CloudWatch dashboard and saved Logs Insights queries (runbook in infra/DEPLOY.md)
API and migration functions -> X-Ray (active tracing)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import AssetHashType, BundlingOptions, CfnOutput, Stack, Tags
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.api import Api
from infra.auth import Auth
from infra.bundling import PROJECT_ROOT, LocalBundler, fingerprint
from infra.dashboard import Dashboard
from infra.database import Database
from infra.database_aurora import AuroraDatabase
from infra.database_instance import InstanceDatabase
from infra.functions import python_runtime
from infra.migrations import Migrations
from infra.monitoring import Monitoring
from infra.network import Network
from infra.settings import AURORA, Settings
from infra.storage import Storage
from infra.sweeper import Sweeper


def lambda_code(settings: Settings) -> lambda_.Code:
    """One asset for both functions, built locally; the Docker image is only a fallback."""
    runtime = python_runtime(settings.python_version)
    return lambda_.Code.from_asset(
        str(PROJECT_ROOT),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=fingerprint(settings.python_version),
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            local=LocalBundler(settings.python_version),
            command=[
                "bash",
                "-c",
                "pip install -r requirements.txt -t /asset-output"
                " && pip install --no-deps -r requirements-nodeps.txt -t /asset-output"
                " && cp -r lambda_app migrations alembic.ini /asset-output",
            ],
        ),
    )


class UsersServiceStack(Stack):
    """Everything the users service needs in one account and region."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # RDS proxy target groups take no tags, though CDK's tag aspect would add them.
        untaggable = ["AWS::RDS::DBProxyTargetGroup"]
        Tags.of(self).add("service", "users", exclude_resource_types=untaggable)
        Tags.of(self).add("stage", settings.stage, exclude_resource_types=untaggable)

        code = lambda_code(settings)
        self.network = Network(self, "Network", settings=settings)
        database_kind = AuroraDatabase if settings.database == AURORA else InstanceDatabase
        self.database: Database = database_kind(
            self, "Database", network=self.network, settings=settings
        )
        self.storage = Storage(self, "Storage", settings=settings)
        # Through the VPC, S3 reaches the user-files bucket only, for what the functions do.
        for statement in self.storage.user_files_statements():
            self.network.s3_endpoint.add_to_policy(statement)
        self.auth = Auth(self, "Auth", settings=settings)
        # Through the VPC, Cognito's endpoint serves the provisioning calls on this pool only.
        self.network.cognito_endpoint.add_to_policy(self.auth.endpoint_statement())
        self.api = Api(
            self,
            "Api",
            code=code,
            network=self.network,
            database=self.database,
            storage=self.storage,
            auth=self.auth,
            settings=settings,
        )
        self.migrations = Migrations(
            self,
            "Migrations",
            code=code,
            network=self.network,
            database=self.database,
            settings=settings,
        )
        self.sweeper = Sweeper(
            self,
            "Sweeper",
            code=code,
            network=self.network,
            database=self.database,
            storage=self.storage,
            auth=self.auth,
            settings=settings,
        )
        self.monitoring = Monitoring(
            self, "Monitoring", api=self.api, database=self.database, settings=settings
        )
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            api=self.api,
            database=self.database,
            monitoring=self.monitoring,
            settings=settings,
        )

        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the API")
        CfnOutput(
            self, "BucketName", value=self.storage.bucket.bucket_name, description="User files"
        )
        CfnOutput(
            self,
            "MigrationFunctionName",
            value=self.migrations.function.function_name,
            description="Invoke with {'action': 'upgrade'|'downgrade'|'current'|"
            "'bootstrap-admin', ...}",
        )
        CfnOutput(
            self,
            "UserPoolId",
            value=self.auth.user_pool.user_pool_id,
            description="Cognito user pool of the API's callers",
        )
        CfnOutput(
            self,
            "UserPoolClientId",
            value=self.auth.client.user_pool_client_id,
            description="App client (no secret, SRP): the audience the API accepts",
        )
        CfnOutput(
            self,
            "IssuerUrl",
            value=self.auth.issuer_url,
            description="The iss claim of accepted tokens",
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.monitoring.topic.topic_arn,
            description="SNS topic the alarms notify; subscribe more endpoints here",
        )
        CfnOutput(
            self,
            "DashboardName",
            value=self.dashboard.name,
            description="CloudWatch dashboard of the stage; the runbook is in infra/DEPLOY.md",
        )

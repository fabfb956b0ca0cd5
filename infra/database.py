"""Database: RDS PostgreSQL behind an RDS Proxy that requires TLS and IAM, secrets rotated.

Two roles, two secrets. The master user (``users_admin``) is for migrations only, which
connect to the instance directly. The API logs in as the least-privilege role
``users_app`` (created by the migration function): it signs an IAM token for the proxy,
and the proxy logs in to PostgreSQL with that role's password from its secret.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.capacity import PROXY_MAX_CONNECTIONS_PERCENT
from infra.network import POSTGRES_PORT, Network
from infra.settings import Settings

DATABASE_NAME = "users"
MASTER_USERNAME = "users_admin"
APP_USERNAME = "users_app"
# The newest major version in AWS's table of engine versions RDS Proxy supports for RDS for
# PostgreSQL (infra/DEPLOY.md, "Engine version"); RDS applies minor upgrades itself.
ENGINE_MAJOR_VERSION = "17"
ENGINE = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17)
ROTATION_INTERVAL = Duration.days(30)
# A frozen Lambda container keeps its client connection until this timeout; the API
# replaces its pooled connection a minute earlier (DB_POOL_RECYCLE, infra/functions.py).
PROXY_IDLE_CLIENT_TIMEOUT = Duration.minutes(5)


def instance_identifier(settings: Settings) -> str:
    return f"{settings.prefix}-db"


def postgres_log_group_name(settings: Settings) -> str:
    """RDS's own name for the log group it exports PostgreSQL's log to."""
    return f"/aws/rds/instance/{instance_identifier(settings)}/postgresql"


def master_secret_name(settings: Settings) -> str:
    return f"{settings.prefix}/database"


def app_secret_name(settings: Settings) -> str:
    return f"{settings.prefix}/database-app"


def fixed_names(settings: Settings) -> tuple[str, ...]:
    """Physical names the stack fixes for what prod keeps: a new stack cannot reuse them."""
    return (
        instance_identifier(settings),
        postgres_log_group_name(settings),
        master_secret_name(settings),
        app_secret_name(settings),
    )


class Database(Construct):
    """The instance, its generated credentials secret and the proxy the functions use."""

    def __init__(
        self, scope: Construct, construct_id: str, *, network: Network, settings: Settings
    ) -> None:
        super().__init__(scope, construct_id)

        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=ENGINE,
            description="TLS-only PostgreSQL",
            parameters={"rds.force_ssl": "1"},
            removal_policy=settings.removal_policy,
        )
        # Creating the log group ourselves (instead of cloudwatch_logs_retention) sets
        # its retention without CDK's LogRetention custom-resource function.
        identifier = instance_identifier(settings)
        log_group = logs.LogGroup(
            self,
            "PostgresqlLogs",
            log_group_name=postgres_log_group_name(settings),
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            instance_identifier=identifier,
            engine=ENGINE,
            instance_type=ec2.InstanceType(settings.db_instance_type),
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[network.database_security_group],
            port=POSTGRES_PORT,
            database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                MASTER_USERNAME, secret_name=master_secret_name(settings)
            ),
            parameter_group=parameters,
            allocated_storage=settings.db_allocated_storage_gib,
            max_allocated_storage=settings.db_allocated_storage_gib * 5,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            publicly_accessible=False,
            multi_az=settings.db_multi_az,
            backup_retention=Duration.days(settings.backup_retention_days),
            delete_automated_backups=not settings.is_prod,
            deletion_protection=settings.is_prod,
            removal_policy=settings.removal_policy,
            auto_minor_version_upgrade=True,
            cloudwatch_logs_exports=["postgresql"],
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )
        self.instance.node.add_dependency(log_group)
        # A retained prod database must keep the secret that holds its password.
        generated_secret = self.instance.node.find_child("Secret")
        assert isinstance(generated_secret, secretsmanager.Secret)
        generated_secret.apply_removal_policy(settings.removal_policy)
        secret = self.instance.secret
        assert secret is not None, "from_generated_secret always creates a secret"
        self.secret: secretsmanager.ISecret = secret
        self.rotation = self.instance.add_rotation_single_user(
            automatically_after=ROTATION_INTERVAL,
            vpc_subnets=network.private_subnets,
            security_group=network.rotation_security_group,
            rotate_immediately_on_update=False,
        )

        app_secret = rds.DatabaseSecret(
            self,
            "AppSecret",
            username=APP_USERNAME,
            secret_name=app_secret_name(settings),
        )
        app_secret.apply_removal_policy(settings.removal_policy)
        # Attached, the secret also holds host, port, engine and dbname, as the rotation
        # function expects.
        self.app_secret = app_secret.attach(self.instance)
        self.app_rotation = secretsmanager.SecretRotation(
            self,
            "AppSecretRotation",
            application=secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
            secret=self.app_secret,
            target=self.instance,
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            security_group=network.rotation_security_group,
            automatically_after=ROTATION_INTERVAL,
            rotate_immediately_on_update=False,
        )
        # SecretRotation adds the schedule to the secret, not under itself.
        schedule = self.app_secret.node.try_find_child("RotationSchedule")
        assert schedule is not None
        self.app_rotation_schedule = schedule

        # The proxy holds only the secret its clients log in with; the migration function
        # reads the master secret itself and connects to the instance directly.
        self.proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            proxy_target=rds.ProxyTarget.from_instance(self.instance),
            secrets=[self.app_secret],
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[network.proxy_security_group],
            require_tls=True,
            iam_auth=True,
            idle_client_timeout=PROXY_IDLE_CLIENT_TIMEOUT,
            max_connections_percent=PROXY_MAX_CONNECTIONS_PERCENT,
            debug_logging=False,
        )

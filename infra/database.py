"""Database: RDS PostgreSQL behind an RDS Proxy that requires TLS, its secret rotated."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.network import POSTGRES_PORT, Network
from infra.settings import Settings

DATABASE_NAME = "users"
MASTER_USERNAME = "users_admin"
# A current major version; RDS applies minor upgrades in the maintenance window.
ENGINE = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_18)
ROTATION_INTERVAL = Duration.days(30)


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
        identifier = f"{settings.prefix}-db"
        log_group = logs.LogGroup(
            self,
            "PostgresqlLogs",
            log_group_name=f"/aws/rds/instance/{identifier}/postgresql",
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
                MASTER_USERNAME, secret_name=f"{settings.prefix}/database"
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
        self.rotation = self._rotate_password(network)

        self.proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            proxy_target=rds.ProxyTarget.from_instance(self.instance),
            secrets=[self.secret],
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[network.proxy_security_group],
            require_tls=True,
            iam_auth=False,
            idle_client_timeout=Duration.minutes(30),
            max_connections_percent=90,
            debug_logging=False,
        )

    def _rotate_password(self, network: Network) -> secretsmanager.SecretRotation:
        """Single-user rotation by AWS's hosted PostgreSQL function, inside the VPC.

        The function reaches Secrets Manager through the interface endpoint (its private
        DNS makes the default hostname resolve there) and the instance directly. The app
        survives a rotation: it caches credentials for DB_CREDENTIALS_MAX_AGE seconds and,
        when PostgreSQL refuses a password (SQLSTATE 28P01), reads the secret again and
        retries once (lambda_app/db.py). The first rotation waits for the schedule rather
        than running during the deploy, next to the migration trigger.
        """
        return self.instance.add_rotation_single_user(
            automatically_after=ROTATION_INTERVAL,
            vpc_subnets=network.private_subnets,
            security_group=network.rotation_security_group,
            rotate_immediately_on_update=False,
        )

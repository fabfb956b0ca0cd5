"""The default database: one RDS for PostgreSQL instance (multi-AZ in prod)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds

from infra.database import (
    CA_CERTIFICATE,
    DATABASE_NAME,
    FORCE_SSL,
    MASTER_USERNAME,
    Database,
    instance_identifier,
    master_secret_name,
)
from infra.network import POSTGRES_PORT, Network
from infra.settings import Settings

ENGINE = rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17)


class InstanceDatabase(Database):
    """An RDS PostgreSQL instance with gp3 storage that grows, behind the proxy."""

    instance: rds.DatabaseInstance

    def _create_server(self, network: Network, settings: Settings) -> rds.DatabaseInstance:
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=ENGINE,
            description="TLS-only PostgreSQL",
            parameters=FORCE_SSL,
            removal_policy=settings.removal_policy,
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            instance_identifier=instance_identifier(settings),
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
            ca_certificate=CA_CERTIFICATE,
        )
        return self.instance

    @property
    def writer_address(self) -> str:
        return self.instance.db_instance_endpoint_address

    def _proxy_target(self) -> rds.ProxyTarget:
        return rds.ProxyTarget.from_instance(self.instance)

"""The Aurora option (``-c database=aurora``): Aurora PostgreSQL with Serverless v2 capacity.

A writer and a reader in another zone share one storage volume; capacity follows the load
between ``auroraMinAcu`` and ``auroraMaxAcu``. The proxy in front is the same as the
instance's, plus a read-only endpoint (target role READ_ONLY) that sends connections to
the reader: the API's ``DB_READER_HOST``.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.database import (
    CA_CERTIFICATE,
    DATABASE_NAME,
    FORCE_SSL,
    MASTER_USERNAME,
    Database,
    aurora_instance_identifiers,
    cluster_identifier,
    master_secret_name,
)
from infra.network import POSTGRES_PORT, Network, zone_name
from infra.settings import Settings

ENGINE = rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_4)
# The reader is in failover tier 1 and sized with the writer, so a failover promotes an
# instance as large as the one it replaces.
WRITER_ID = "Writer"
READER_ID = "Reader"


class AuroraDatabase(Database):
    """An Aurora PostgreSQL cluster (writer + reader, Serverless v2) and the proxy's reader."""

    cluster: rds.DatabaseCluster

    def __init__(
        self, scope: Construct, construct_id: str, *, network: Network, settings: Settings
    ) -> None:
        super().__init__(scope, construct_id, network=network, settings=settings)
        self.reader_proxy_endpoint = self.proxy.add_endpoint(
            "ReaderEndpoint",
            db_proxy_endpoint_name=f"{settings.prefix}-reader",
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[network.proxy_security_group],
            target_role=rds.ProxyEndpointTargetRole.READ_ONLY,
        )
        self.reader_endpoint = self.reader_proxy_endpoint.endpoint

    def _create_server(self, network: Network, settings: Settings) -> rds.DatabaseCluster:
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=ENGINE,
            description="TLS-only Aurora PostgreSQL",
            parameters=FORCE_SSL,
            removal_policy=settings.removal_policy,
        )
        region = Stack.of(self).region
        writer_zone, reader_zone = (
            zone_name(zone, region) for zone in settings.availability_zones[:2]
        )
        instance_options = {
            "ca_certificate": CA_CERTIFICATE,
            "auto_minor_version_upgrade": True,
            "publicly_accessible": False,
        }
        writer_identifier, reader_identifier = aurora_instance_identifiers(settings)
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            cluster_identifier=cluster_identifier(settings),
            engine=ENGINE,
            writer=rds.ClusterInstance.serverless_v2(
                WRITER_ID,
                instance_identifier=writer_identifier,
                availability_zone=writer_zone,
                **instance_options,
            ),
            readers=[
                rds.ClusterInstance.serverless_v2(
                    READER_ID,
                    instance_identifier=reader_identifier,
                    availability_zone=reader_zone,
                    scale_with_writer=True,
                    **instance_options,
                )
            ],
            serverless_v2_min_capacity=settings.aurora_min_acu,
            serverless_v2_max_capacity=settings.aurora_max_acu,
            vpc=network.vpc,
            vpc_subnets=network.private_subnets,
            security_groups=[network.database_security_group],
            port=POSTGRES_PORT,
            default_database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                MASTER_USERNAME, secret_name=master_secret_name(settings)
            ),
            parameter_group=parameters,
            storage_encrypted=True,
            backup=rds.BackupProps(retention=Duration.days(settings.backup_retention_days)),
            delete_automated_backups=not settings.is_prod,
            deletion_protection=settings.is_prod,
            removal_policy=settings.removal_policy,
            cloudwatch_logs_exports=["postgresql"],
        )
        return self.cluster

    @property
    def writer_address(self) -> str:
        return self.cluster.cluster_endpoint.hostname

    def _proxy_target(self) -> rds.ProxyTarget:
        return rds.ProxyTarget.from_cluster(self.cluster)

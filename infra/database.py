"""Database: PostgreSQL behind an RDS Proxy that requires TLS and IAM, secrets rotated.

Two options share everything but the server (``-c database=instance|aurora``): a single
RDS instance (``infra/database_instance.py``, the default) or an Aurora Serverless v2
cluster with a writer and a reader (``infra/database_aurora.py``). Either way, two roles
and two secrets: the master user (``users_admin``) is for migrations only, which connect
to the server directly; the API logs in as the least-privilege role ``users_app``
(created by the migration function) with an IAM token for the proxy, and the proxy logs
in to PostgreSQL with that role's password from its secret.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.capacity import PROXY_MAX_CONNECTIONS_PERCENT
from infra.network import Network
from infra.settings import AURORA, Settings

DATABASE_NAME = "users"
MASTER_USERNAME = "users_admin"
APP_USERNAME = "users_app"
# The newest major version in AWS's tables of engine versions RDS Proxy supports, for RDS
# for PostgreSQL and Aurora PostgreSQL (infra/DEPLOY.md, "Engine version"); minor upgrades
# are applied by RDS.
ENGINE_MAJOR_VERSION = "17"
ROTATION_INTERVAL = Duration.days(30)
# A frozen Lambda container keeps its client connection until this timeout; the API
# replaces its pooled connection a minute earlier (DB_POOL_RECYCLE, infra/functions.py).
PROXY_IDLE_CLIENT_TIMEOUT = Duration.minutes(5)
# Every connection is TLS: the server refuses anything else (a cluster parameter on Aurora).
FORCE_SSL = {"rds.force_ssl": "1"}
# The migration function verifies the server's certificate against the RDS CA bundle.
CA_CERTIFICATE = rds.CaCertificate.RDS_CA_RSA2048_G1


def instance_identifier(settings: Settings) -> str:
    return f"{settings.prefix}-db"


CLUSTER_SUFFIX = "-cluster"


def cluster_identifier(settings: Settings) -> str:
    """Aurora's cluster; its instances are ``<cluster>-writer`` and ``<cluster>-reader``."""
    return f"{settings.prefix}{CLUSTER_SUFFIX}"


def aurora_instance_identifiers(settings: Settings) -> tuple[str, str]:
    """The writer's and the reader's instance identifiers."""
    cluster = cluster_identifier(settings)
    return f"{cluster}-writer", f"{cluster}-reader"


def is_cluster_identifier(name: str) -> bool:
    """Tell a fixed name of an Aurora cluster from one of a database instance."""
    return name.endswith(CLUSTER_SUFFIX)


def postgres_log_group_name(settings: Settings) -> str:
    """RDS's own name for the log group it exports PostgreSQL's log to."""
    if settings.database == AURORA:
        return f"/aws/rds/cluster/{cluster_identifier(settings)}/postgresql"
    return f"/aws/rds/instance/{instance_identifier(settings)}/postgresql"


def master_secret_name(settings: Settings) -> str:
    return f"{settings.prefix}/database"


def app_secret_name(settings: Settings) -> str:
    return f"{settings.prefix}/database-app"


def fixed_names(settings: Settings) -> tuple[str, ...]:
    """Physical names the stack fixes for what prod keeps: a new stack cannot reuse them."""
    servers = (
        (cluster_identifier(settings), *aurora_instance_identifiers(settings))
        if settings.database == AURORA
        else (instance_identifier(settings),)
    )
    return (
        *servers,
        postgres_log_group_name(settings),
        master_secret_name(settings),
        app_secret_name(settings),
    )


class Database(Construct):
    """The server, its two rotated secrets and the proxy the functions use.

    A subclass builds the server (``_create_server``); this class adds what both options
    share: the master secret kept with the server, the app role's secret attached to it,
    both rotations, and the proxy.
    """

    target: rds.DatabaseInstance | rds.DatabaseCluster
    # The read-only proxy endpoint, when the server has readers (Aurora).
    reader_endpoint: str | None = None

    def __init__(
        self, scope: Construct, construct_id: str, *, network: Network, settings: Settings
    ) -> None:
        super().__init__(scope, construct_id)
        # Creating the log group ourselves (instead of cloudwatch_logs_retention) sets
        # its retention without CDK's LogRetention custom-resource function.
        self.log_group = logs.LogGroup(
            self,
            "PostgresqlLogs",
            log_group_name=postgres_log_group_name(settings),
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        self.target = self._create_server(network, settings)
        self.target.node.add_dependency(self.log_group)
        # A retained prod database must keep the secret that holds its password.
        generated_secret = self.target.node.find_child("Secret")
        assert isinstance(generated_secret, secretsmanager.Secret)
        generated_secret.apply_removal_policy(settings.removal_policy)
        secret = self.target.secret
        assert secret is not None, "from_generated_secret always creates a secret"
        self.secret: secretsmanager.ISecret = secret
        self.rotation = self.target.add_rotation_single_user(
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
        self.app_secret = app_secret.attach(self.target)
        self.app_rotation = secretsmanager.SecretRotation(
            self,
            "AppSecretRotation",
            application=secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
            secret=self.app_secret,
            target=self.target,
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
        # reads the master secret itself and connects to the server directly.
        self.proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            proxy_target=self._proxy_target(),
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

    @property
    def connections(self) -> ec2.Connections:
        """The server's security group rules (the migration function adds itself here)."""
        return self.target.connections

    @property
    def writer_address(self) -> str:
        """Where the migration function connects: the instance, or the cluster's writer."""
        raise NotImplementedError

    def _create_server(
        self, network: Network, settings: Settings
    ) -> rds.DatabaseInstance | rds.DatabaseCluster:
        raise NotImplementedError

    def _proxy_target(self) -> rds.ProxyTarget:
        raise NotImplementedError

"""Network: a private VPC, endpoints to AWS services, and the security-group chain.

Traffic allowed, and nothing else: API function -> proxy -> database on PostgreSQL's
port; API function -> HTTPS out, which reaches only the S3 gateway endpoint and the
Cognito interface endpoint (there is no NAT gateway and no internet route; the sweeper
shares the API's group); migration function -> database directly and ->
the Secrets Manager endpoint; the secrets' rotation functions -> database and -> the
Secrets Manager endpoint; the proxy -> the Secrets Manager endpoint (it reads the app
role's secret).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.settings import Settings

POSTGRES_PORT = 5432


def zone_name(zone: str, region: str) -> str:
    """A zone letter ("a") joined to the region; a full zone name is kept as it is."""
    return f"{region}{zone}" if zone.isalpha() and len(zone) == 1 else zone


class Network(Construct):
    """VPC over the chosen AZs with isolated subnets only; S3, Secrets Manager and Cognito
    endpoints."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            availability_zones=[
                zone_name(zone, Stack.of(self).region) for zone in settings.availability_zones
            ],
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
        )
        self.private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        # A retained prod database stays in its subnets: deleting them, or the VPC, would
        # fail and leave the stack in DELETE_FAILED. Route tables and endpoints still go.
        self.vpc.apply_removal_policy(settings.removal_policy)
        for subnet in self.vpc.isolated_subnets:
            subnet.apply_removal_policy(settings.removal_policy)
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(
                    self,
                    "FlowLogGroup",
                    retention=settings.log_retention,
                    removal_policy=settings.removal_policy,
                )
            ),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )

        self.function_security_group = self._security_group(
            "FunctionSecurityGroup", "API function: PostgreSQL to the proxy, HTTPS to S3"
        )
        self.migration_security_group = self._security_group(
            "MigrationSecurityGroup",
            "Migration function: PostgreSQL to the database, HTTPS to Secrets Manager",
        )
        self.proxy_security_group = self._security_group(
            "ProxySecurityGroup",
            "RDS Proxy: from the API function, to the database and Secrets Manager",
        )
        self.database_security_group = self._security_group(
            "DatabaseSecurityGroup",
            "RDS PostgreSQL: from the proxy, the migration and the rotation functions",
        )
        # Kept with the database in prod; the rules other groups add to it are separate
        # resources, deleted with the stack.
        self.database_security_group.apply_removal_policy(settings.removal_policy)
        self.rotation_security_group = self._security_group(
            "RotationSecurityGroup",
            "Secret rotation functions: PostgreSQL to the database, HTTPS to Secrets Manager",
        )
        self.endpoint_security_group = self._security_group(
            "EndpointSecurityGroup",
            "Secrets Manager endpoint: HTTPS from the migration, rotation and proxy",
        )
        self.cognito_endpoint_security_group = self._security_group(
            "CognitoEndpointSecurityGroup",
            "Cognito user pools endpoint: HTTPS from the API function and the sweeper",
        )

        postgres = ec2.Port.tcp(POSTGRES_PORT)
        https = ec2.Port.tcp(443)
        self.function_security_group.connections.allow_to(
            self.proxy_security_group, postgres, "functions to RDS Proxy"
        )
        # proxy -> database (ingress and egress) is added by rds.DatabaseProxy itself;
        # a second, identical rule here would fail the deploy as a duplicate.
        # migration -> database and rotation -> database are added where the instance is
        # known (infra/migrations.py, infra/database.py): its port is a deploy-time value.
        for group, description in (
            (self.migration_security_group, "migrations"),
            (self.rotation_security_group, "secret rotation"),
            (self.proxy_security_group, "RDS Proxy (reads the app role's secret)"),
        ):
            group.connections.allow_to(
                self.endpoint_security_group,
                https,
                f"{description} to the Secrets Manager endpoint",
            )
        # The S3 gateway endpoint is reached through a route, not an ENI; its prefix
        # list id is region-specific and unknown to an env-agnostic stack. 443 to
        # anywhere is still private: isolated subnets route nowhere but the endpoints.
        self.function_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), https, "HTTPS to the S3 gateway endpoint"
        )
        # That egress covers the Cognito endpoint too; the endpoint admits only these functions.
        self.cognito_endpoint_security_group.add_ingress_rule(
            self.function_security_group, https, "API function and sweeper to Cognito"
        )

        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3Endpoint",
            service=ec2.GatewayVpcEndpointAwsService.S3,
            subnets=[self.private_subnets],
        )
        self.secrets_manager_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManagerEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=self.private_subnets,
            security_groups=[self.endpoint_security_group],
            private_dns_enabled=True,
            open=False,
        )
        # The functions' Cognito admin calls (identity provisioning) stay in the VPC. Cognito
        # serves user pools through PrivateLink only while the pool has no domain
        # (infra/DEPLOY.md): the stack's pool has none. Its policy names the pool (stack.py).
        self.cognito_endpoint = self.vpc.add_interface_endpoint(
            "CognitoEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.COGNITO_IDP,
            subnets=self.private_subnets,
            security_groups=[self.cognito_endpoint_security_group],
            private_dns_enabled=True,
            open=False,
        )

    def _security_group(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self,
            construct_id,
            vpc=self.vpc,
            description=description,
            allow_all_outbound=False,
        )

"""cdk-nag's AwsSolutions pack over the stack, and every accepted finding with its reason.

The pack runs as a CDK validation plugin on every synth: an unacknowledged error
stops ``cdk synth`` (and so ``make synth`` and the tests). Each acknowledgment
below names the rule, the resource it is attached to, and why we accept it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra.settings import AURORA, SNAPSTART_PYTHON_VERSIONS, Settings

if TYPE_CHECKING:
    from infra.stack import UsersServiceStack

BASIC_EXECUTION_POLICY = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
)
VPC_ACCESS_POLICY = (
    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
)


def apply_nag_checks(app: App, stack: UsersServiceStack, settings: Settings) -> None:
    """Register the AwsSolutions pack on ``app`` and acknowledge the accepted findings."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    database = stack.database
    _acknowledge(
        database.target,
        "AwsSolutions-RDS11",
        "A non-default port adds nothing here: the instance is in isolated subnets and its "
        "security group admits only the RDS Proxy, the migration function and the secret "
        "rotation functions.",
    )
    if not settings.db_multi_az and settings.database != AURORA:
        _acknowledge(
            database.target,
            "AwsSolutions-RDS3",
            f"Single-AZ in stage {settings.stage} to halve its cost; prod defaults to "
            "multi-AZ (context dbMultiAz).",
        )
    if settings.database == AURORA:
        _acknowledge(
            database.target,
            "AwsSolutions-RDS6",
            "The API authenticates with IAM to RDS Proxy, which logs in to the cluster with "
            "the app role's password from Secrets Manager; AWS warns against mixing IAM and "
            "password authentication for one database user (DEPLOY.md, 'Database roles, IAM "
            "and rotation'), so the cluster's own IAM database authentication stays off.",
        )
    if not settings.is_prod:
        _acknowledge(
            database.target,
            "AwsSolutions-RDS10",
            "dev stacks must be destroyable; prod enables deletion protection.",
        )
    newest = SNAPSTART_PYTHON_VERSIONS[-1]
    for function in (stack.api.function, stack.migrations.function, stack.sweeper.function):
        if settings.python_version != newest:
            _acknowledge(
                function,
                "AwsSolutions-L1",
                f"Python {settings.python_version} on purpose: the bundle's byte code must be "
                f"compiled by the same CPython version, and the build machines have no "
                f"{newest}; -c pythonVersion={newest} switches where one exists (DEPLOY.md).",
            )
        role = function.role
        assert role is not None
        _acknowledge(
            role,
            f"AwsSolutions-IAM4[{BASIC_EXECUTION_POLICY}]",
            "AWS-maintained policy that only lets the function write its own logs.",
        )
        _acknowledge(
            role,
            f"AwsSolutions-IAM4[{VPC_ACCESS_POLICY}]",
            "AWS-maintained policy a function in a VPC needs to manage its network "
            "interfaces; no narrower resource scope exists for these EC2 actions.",
        )
    _acknowledge(
        stack.api.function,
        "Annotation::@aws-cdk/aws-lambda:snapStartRequirePublish",
        "The function is only invoked through its alias, which points at current_version, "
        "a published version, so SnapStart applies.",
    )
    bucket_arn = stack.resolve(stack.storage.bucket.bucket_arn)["Fn::GetAtt"][0]
    for role in (stack.api.function.role, stack.sweeper.function.role):
        _acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{bucket_arn}.Arn>/users/*]",
            "Object actions (get/put/delete) are limited to the users/ prefix, where every "
            "key the service writes lives (users/{id}/...); keys are not known in advance.",
        )
    _acknowledge(
        stack.storage.bucket,
        "AwsSolutions-S1",
        "Objects are reached only through the API and its presigned URLs, which the API "
        "access log records; server access logs would need a second, unlogged bucket.",
    )
    for path, route in stack.api.public_routes.items():
        _acknowledge(
            route,
            "AwsSolutions-APIG4",
            f"GET {path} is public on purpose: "
            + (
                "a health check for monitors and load tests; it reveals no user data."
                if path == "/health"
                else "the API description, served in the dev stage only; it holds no data."
            ),
        )
    _acknowledge(
        stack.api.preflight_route,
        "AwsSolutions-APIG4",
        "OPTIONS is the CORS preflight, which browsers send without credentials; with a "
        "token required here (the $default route's authorizer) no browser could call the "
        "API. API Gateway answers preflights from the CORS configuration.",
    )
    user_pool = stack.auth.user_pool
    _acknowledge(
        user_pool,
        "AwsSolutions-COG2",
        "MFA is optional (TOTP) as issue 4 asks: customers choose whether to enroll; "
        "requiring it would force every customer through authenticator setup. DEPLOY.md "
        "asks admins and staff to enroll.",
    )
    _acknowledge(
        user_pool,
        "AwsSolutions-COG8",
        "Threat protection needs the Plus feature plan, billed for every monthly active "
        "user, where Lite covers what we use (email sign-in, strong passwords, TOTP, token "
        "revocation); revisit when the user base or risk grows.",
    )


def _acknowledge(construct: IConstruct | None, rule: str, reason: str) -> None:
    assert construct is not None
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))

"""Auth: the Cognito user pool callers sign in to, and the app client the API trusts.

Cognito proves who the caller is; what they may do is the app's decision, by the
``user_type`` of their row in the database, so the pool has no groups.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.settings import Settings

PASSWORD_MIN_LENGTH = 12
TEMPORARY_PASSWORD_VALIDITY = Duration.days(3)
ID_AND_ACCESS_TOKEN_VALIDITY = Duration.hours(1)
REFRESH_TOKEN_VALIDITY = Duration.days(30)
# What provisioning calls on the pool (lambda_app/external_services/cognito.py): the API
# (create and link, email changes, deletes) and the sweeper (the same tasks, by the drain).
PROVISIONING_ACTIONS = (
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminUpdateUserAttributes",
    "cognito-idp:AdminUserGlobalSignOut",
    "cognito-idp:AdminDeleteUser",
)
# What the sweeper's reconcile-identities adds: listing the pool, disabling orphans.
RECONCILE_ACTIONS = ("cognito-idp:ListUsers", "cognito-idp:AdminDisableUser")


class Auth(Construct):
    """User pool (email sign-in, strong passwords, optional TOTP MFA) and its app client."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)

        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{settings.prefix}-users",
            # The email address is the username: one identity per address.
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            # A changed address takes effect only once verified, so the `email` claim the
            # app registers users with is always a verified one.
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            self_sign_up_enabled=settings.self_sign_up,
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=TEMPORARY_PASSWORD_VALIDITY,
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # Email sign-in, TOTP and token revocation are all in Lite; see nag.py for Plus.
            feature_plan=cognito.FeaturePlan.LITE,
            deletion_protection=settings.is_prod,
            removal_policy=settings.removal_policy,
        )

        self.client = self.user_pool.add_client(
            "ApiClient",
            user_pool_client_name=f"{settings.prefix}-api",
            # A public client (browser, CLI): it could not keep a secret.
            generate_secret=False,
            # SRP never sends the password; CDK adds ALLOW_REFRESH_TOKEN_AUTH to any flow.
            auth_flows=cognito.AuthFlow(user_srp=True),
            # No hosted UI yet: no OAuth flows, scopes or callback URLs to abuse.
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=ID_AND_ACCESS_TOKEN_VALIDITY,
            access_token_validity=ID_AND_ACCESS_TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
            auth_session_validity=Duration.minutes(3),
        )

    def grant_provisioning(self, grantee: iam.IGrantable, *, reconcile: bool = False) -> None:
        """Let `grantee` call the admin actions provisioning needs, on this pool only."""
        actions = PROVISIONING_ACTIONS + (RECONCILE_ACTIONS if reconcile else ())
        self.user_pool.grant(grantee, *actions)

    def endpoint_statement(self) -> iam.PolicyStatement:
        """What the VPC's Cognito endpoint lets through: those actions, on this pool only."""
        return iam.PolicyStatement(
            principals=[iam.AnyPrincipal()],
            actions=[*PROVISIONING_ACTIONS, *RECONCILE_ACTIONS],
            resources=[self.user_pool.user_pool_arn],
        )

    @property
    def issuer_url(self) -> str:
        """The ``iss`` of the pool's tokens, which the API's JWT authorizer checks."""
        return f"https://{self.user_pool.user_pool_provider_url}"

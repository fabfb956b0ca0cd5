"""Auth: the Cognito user pool and its app client, per stage."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synthesized, synthesize


def _user_pool(synth: Synthesized) -> dict[str, Any]:
    (pool,) = synth.resources("AWS::Cognito::UserPool").values()
    return pool


def _client(synth: Synthesized) -> dict[str, Any]:
    (client,) = synth.resources("AWS::Cognito::UserPoolClient").values()
    properties: dict[str, Any] = client["Properties"]
    return properties


def test_users_sign_in_with_their_verified_email_address(dev: Synthesized) -> None:
    properties = _user_pool(dev)["Properties"]
    assert properties["UsernameAttributes"] == ["email"]
    assert properties["UsernameConfiguration"] == {"CaseSensitive": False}
    assert properties["AutoVerifiedAttributes"] == ["email"]
    assert properties["UserAttributeUpdateSettings"] == {
        "AttributesRequireVerificationBeforeUpdate": ["email"]
    }
    assert properties["Schema"] == [{"Mutable": True, "Name": "email", "Required": True}]
    assert properties["AccountRecoverySetting"] == {
        "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
    }


def test_only_admins_create_users_unless_self_sign_up_is_enabled(
    dev: Synthesized, tmp_path_factory: Any
) -> None:
    properties = _user_pool(dev)["Properties"]
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    open_pool = synthesize(
        tmp_path_factory.mktemp("cdk-self-sign-up"),
        stage="dev",
        selfSignUp="true",
        **{"aws:cdk:bundling-stacks": []},
    )
    config = _user_pool(open_pool)["Properties"]["AdminCreateUserConfig"]
    assert config["AllowAdminCreateUserOnly"] is False


def test_passwords_are_strong_and_mfa_is_optional_totp(dev: Synthesized) -> None:
    properties = _user_pool(dev)["Properties"]
    assert properties["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "RequireUppercase": True,
        "TemporaryPasswordValidityDays": 3,
    }
    assert properties["MfaConfiguration"] == "OPTIONAL"
    assert properties["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert properties["UserPoolTier"] == "LITE"
    assert "SmsConfiguration" not in properties


def test_dev_pool_is_destroyed_and_prod_pool_is_protected_and_retained(
    dev: Synthesized, prod: Synthesized
) -> None:
    dev_pool = _user_pool(dev)
    assert dev_pool["DeletionPolicy"] == "Delete"
    assert dev_pool["Properties"]["DeletionProtection"] == "INACTIVE"
    prod_pool = _user_pool(prod)
    assert prod_pool["DeletionPolicy"] == "Retain"
    assert prod_pool["UpdateReplacePolicy"] == "Retain"
    assert prod_pool["Properties"]["DeletionProtection"] == "ACTIVE"
    assert prod_pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_app_client_is_public_srp_only_and_hides_user_existence(dev: Synthesized) -> None:
    client = _client(dev)
    assert client["GenerateSecret"] is False
    assert sorted(client["ExplicitAuthFlows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["EnableTokenRevocation"] is True
    assert client["AllowedOAuthFlowsUserPoolClient"] is False
    assert "CallbackURLs" not in client
    assert client["UserPoolId"] == {"Ref": dev.logical_id(dev.stack.auth.user_pool)}


def test_tokens_live_an_hour_and_refresh_tokens_thirty_days(dev: Synthesized) -> None:
    client = _client(dev)
    assert client["IdTokenValidity"] == client["AccessTokenValidity"] == 60
    assert client["RefreshTokenValidity"] == 30 * 24 * 60
    assert client["TokenValidityUnits"] == {
        "AccessToken": "minutes",
        "IdToken": "minutes",
        "RefreshToken": "minutes",
    }


def test_pool_has_no_groups_since_the_database_holds_roles(dev: Synthesized) -> None:
    dev.template.resource_count_is("AWS::Cognito::UserPoolGroup", 0)


def test_outputs_name_the_pool_client_and_issuer(dev: Synthesized) -> None:
    outputs = dev.template.to_json()["Outputs"]
    auth = dev.stack.auth
    assert outputs["UserPoolId"]["Value"] == {"Ref": dev.logical_id(auth.user_pool)}
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": dev.logical_id(auth.client)}
    assert outputs["IssuerUrl"]["Value"] == {
        "Fn::Join": [
            "",
            ["https://", {"Fn::GetAtt": [dev.logical_id(auth.user_pool), "ProviderURL"]}],
        ]
    }

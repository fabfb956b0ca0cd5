"""Settings read from the environment, one place for every knob.

Read as pydantic-settings read them, without importing it (some 30 ms of every cold start,
for sources the service never uses): each field from the environment variable of its name
(or of its alias choices, the first set wins), upper or lower case; JSON for a list; then
from `.env` in the working folder for what the environment does not set; the arguments
given to `Settings(...)` win over both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, get_origin

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic.fields import FieldInfo

FIVE_MIB = 5 * 1024 * 1024
# `.env` in the folder the process runs in: local runs only, never in the bundle nor in tests.
ENV_FILE = Path(".env")
# `Settings(...)` without `_env_file`: the class's `env_file`.
_CLASS_ENV_FILE: Any = object()


class Settings(BaseModel):
    """Every setting of the service, read from environment variables of the same name."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, validate_default=True, validate_by_name=True
    )
    # Where `Settings()` reads a `.env` from; None: nowhere (the tests).
    env_file: ClassVar[Path | None] = ENV_FILE

    def __init__(self, _env_file: str | Path | None = _CLASS_ENV_FILE, **values: Any) -> None:
        env_file = type(self).env_file if _env_file is _CLASS_ENV_FILE else _env_file
        super().__init__(**{**read_settings(type(self), env_file), **values})

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, for local runs and tests; `postgresql://` is served by "
        "pg8000.",
    )
    db_secret_arn: str | None = Field(
        default=None,
        description="On AWS (migration function): the master user's RDS secret, JSON with host, "
        "port, username, password and dbname.",
    )
    db_host: str | None = Field(
        default=None,
        description="Database host (on AWS, the RDS Proxy endpoint); overrides a secret's host.",
    )
    db_port: int = Field(default=5432, gt=0, lt=65536, description="Database port.")
    db_reader_host: str | None = Field(
        default=None,
        description="A read replica (with `-c database=aurora`, the proxy's read-only endpoint): "
        "list pages that send `Read-After` may be served there; unset, every read goes "
        'to the writer (docs/api.md, "Reads from a replica").',
    )
    db_reader_port: int | None = Field(
        default=None,
        gt=0,
        lt=65536,
        description="The read replica's port; the writer's when unset.",
    )
    db_name: str | None = Field(
        default=None, description="Database name; overrides a secret's dbname."
    )
    db_user: str | None = Field(
        default=None, description="The role to log in as with DB_IAM_AUTH (`users_app` on AWS)."
    )
    db_iam_auth: bool = Field(
        default=False,
        description="On AWS (API function): log in with an RDS IAM auth token signed locally, no "
        "secret read.",
    )
    db_ssl: bool | None = Field(
        default=None,
        description="TLS with certificate verification; unset, it is on with DB_IAM_AUTH or "
        "DB_SECRET_ARN and off with DATABASE_URL.",
    )
    db_connect_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds to wait for the server: to connect and on each read.",
    )
    db_statement_timeout_ms: int = Field(
        default=4_000,
        ge=0,
        description="Statement timeout the migration sets on the app role (0: none); "
        "below DB_CONNECT_TIMEOUT so the server cancels before the client gives up.",
    )
    migration_lock_timeout_ms: int = Field(
        default=5_000,
        gt=0,
        description="How long a migration waits for a table lock that live requests hold.",
    )
    migration_attempts: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Tries of a migration that found a table lock busy, before the deploy fails.",
    )
    app_db_role: str = Field(
        default="users_app",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="Least-privilege role the API logs in as; the migration maintains it.",
    )
    app_db_secret_arn: str | None = Field(
        default=None,
        description="On AWS (migration function): the secret with the app role's password.",
    )
    app_db_password: SecretStr | None = Field(
        default=None,
        description="The app role's password where there is no secret: local runs (`make run` sets "
        "one) and tests.",
    )
    db_pool_recycle: int = Field(
        default=600,
        gt=0,
        description="Seconds before a pooled connection is replaced (240 on AWS, below RDS Proxy's "
        "idle timeout).",
    )
    db_pool_size: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Pooled connections per process: 1 on Lambda, `make run` uses 5.",
    )
    db_max_overflow: int = Field(
        default=0,
        ge=0,
        le=100,
        description="Extra connections beyond the pool under load (`make run` uses 5).",
    )
    db_credentials_max_age: int = Field(
        default=300, ge=0, description="Seconds a secret's credentials are cached."
    )

    aws_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="Region of the S3 bucket and the secret; Lambda sets it.",
    )
    s3_bucket: str | None = Field(
        default=None, description="Bucket of user files; the avatar routes answer 503 without it."
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Another S3 endpoint, e.g. the local moto server (path-style)."
    )
    s3_connect_timeout: float = Field(default=2.0, gt=0, description="Seconds to connect to S3.")
    s3_read_timeout: float = Field(default=5.0, gt=0, description="Seconds to wait for S3.")
    s3_max_attempts: int = Field(
        default=2, ge=1, le=10, description="Tries per S3 call (botocore's standard retry mode)."
    )
    avatar_max_bytes: int = Field(
        default=FIVE_MIB, gt=0, description="Largest avatar upload in bytes (5 MiB)."
    )
    presign_expires_seconds: int = Field(
        default=900, gt=0, le=604_800, description="Lifetime of presigned URLs in seconds."
    )
    cognito_user_pool_id: str | None = Field(
        default=None,
        description="The Cognito user pool whose identities the API provisions; unset, "
        "provisioning is off.",
    )
    cognito_endpoint_url: str | None = Field(
        default=None, description="Another Cognito endpoint, e.g. the local moto server."
    )
    cognito_connect_timeout: float = Field(
        default=2.0, gt=0, description="Seconds to connect to Cognito."
    )
    cognito_read_timeout: float = Field(
        default=5.0, gt=0, description="Seconds to wait for Cognito."
    )
    cognito_max_attempts: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Tries per Cognito call (botocore's standard retry mode).",
    )

    auth_issuer: str | None = Field(
        default=None, description="Outside Lambda: the `iss` every bearer token must carry."
    )
    auth_audience: str | None = Field(
        default=None,
        description="Outside Lambda: the `aud` (or Cognito `client_id`) every bearer token must "
        "carry.",
    )
    auth_jwks_url: str | None = Field(
        default=None,
        description="Outside Lambda: JWKS URL of the token issuer's signing keys (cached an hour), "
        "instead of a PEM key.",
    )
    auth_public_key_pem: str | None = Field(
        default=None,
        description="Outside Lambda: the PEM public key that signs tokens, instead of "
        "AUTH_JWKS_URL.",
    )
    auth_leeway_seconds: int = Field(
        default=30, ge=0, le=300, description="Clock skew allowed on `exp`, `nbf` and `iat`."
    )
    max_body_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        description="Largest request body accepted in bytes; a larger one is 413.",
    )
    metrics_namespace: str = Field(
        default="UsersService", description="CloudWatch namespace of the Lambda metrics."
    )
    # Not `default_factory=list`: pydantic reads a factory's signature, and `list`'s comes as
    # text that only the tokenize module parses (some 2 ms of every cold start). Pydantic
    # copies a mutable default for each instance.
    cors_allowed_origins: list[str] = Field(
        default=[],
        description="Browser origins the app answers CORS for, as a JSON list; API Gateway does it "
        "on AWS.",
    )
    api_docs: bool = Field(
        default=True, description="Serve /docs and /openapi.json; `false` in the prod stage."
    )

    api_base_path: str = Field(
        default="", description="Path prefix in front of the API, e.g. `/prod` for a named stage."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    tracing: bool = Field(
        default=False,
        description="Trace requests with X-Ray through Powertools' Tracer; the CDK turns it on "
        "with active tracing.",
    )
    stage: str = Field(
        default="dev",
        description='Deployment stage; in `prod` a downgrade to base needs `"confirm": "drop every '
        'table"`.',
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings, read once per process."""
    return Settings()


def read_settings(settings: type[BaseModel], env_file: str | Path | None) -> dict[str, Any]:
    """The fields of `settings` that `env_file` (if it exists) or the environment set.

    A field set in both takes the environment's value.
    """
    found: dict[str, Any] = {}
    if env_file is not None and Path(env_file).is_file():
        # Only a local run has a .env: Lambda's init does not import the parser.
        from dotenv import dotenv_values

        found.update(_fields_set_by(settings, dotenv_values(env_file, encoding="utf-8")))
    found.update(_fields_set_by(settings, os.environ))
    return found


def _fields_set_by(
    settings: type[BaseModel], variables: Mapping[str, str | None]
) -> dict[str, Any]:
    """The fields of `settings` that `variables` set, by field name; names in any case.

    A variable without a value (a bare `NAME` line of `.env`) sets nothing.
    """
    lowered = {name.lower(): value for name, value in variables.items()}
    found: dict[str, Any] = {}
    for field_name, field in settings.model_fields.items():
        for variable in _variable_names(field_name, field):
            value = lowered.get(variable)
            if value is not None:
                found[field_name] = _decoded(field_name, field, value)
                break
    return found


def _variable_names(field_name: str, field: FieldInfo) -> list[str]:
    """The variables a field is read from, lower case, in order: its alias choices or its name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice).lower() for choice in alias.choices]
    if isinstance(alias, str):
        return [alias.lower()]
    return [field_name]


def _decoded(field_name: str, field: FieldInfo, value: str) -> Any:
    """A list field's value is JSON; any other is the string, which pydantic validates."""
    if get_origin(field.annotation) is not list:
        return value
    try:
        return json.loads(value)
    except ValueError as error:
        raise ValueError(
            f"error parsing value for field {field_name!r} from the environment: JSON expected"
        ) from error

"""Deployment knobs, read from CDK context (``-c key=value`` or cdk.json) with defaults.

Every knob is documented in infra/DEPLOY.md; the defaults live here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from infra.capacity import (
    acu_memory_bytes,
    connection_budget_for_memory,
    instance_memory_bytes,
)

STAGES = ("dev", "prod")
# 3.14 is the newest runtime aws-cdk-lib offers with SnapStart, but byte code needs a
# build interpreter of the same version, and 3.13 is the newest this project can count
# on (see infra/DEPLOY.md, "Runtime and byte code"); -c pythonVersion=3.14 opts in.
DEFAULT_PYTHON_VERSION = "3.13"
SNAPSTART_PYTHON_VERSIONS = ("3.12", "3.13", "3.14")
# dev's default browser origins; prod has none and must be given its own (allowedOrigins).
DEFAULT_ALLOWED_ORIGINS = ("http://localhost:3000", "http://localhost:5173")
# Zone letters appended to the deploy region, so no lookup is needed at synth; RDS Proxy
# refuses some zones (use1-az3, usw1-az2), see infra/DEPLOY.md "Availability zones".
DEFAULT_AVAILABILITY_ZONES = ("a", "b")
# reservedConcurrency=auto reserves the connection budget of the instance class; unset (or
# "none") reserves nothing, the only choice a new account can always grant (DEPLOY.md).
AUTO_RESERVED_CONCURRENCY = "auto"
NO_RESERVED_CONCURRENCY = "none"
# INFO: platform.start and platform.report per invocation (cold-start and failure queries
# read them); WARN: only what goes wrong, about 40% fewer log bytes (DEPLOY.md, "Log cost").
SYSTEM_LOG_LEVELS = ("INFO", "WARN")
# -c database=...: one RDS instance (the default), or an Aurora Serverless v2 cluster with a
# writer and a reader behind the same proxy (infra/DEPLOY.md, "The Aurora option").
INSTANCE = "instance"
AURORA = "aurora"
DATABASE_KINDS = (INSTANCE, AURORA)
# Serverless v2 capacity in ACUs (about 2 GiB of memory each), in half-ACU steps. The
# minimum is 0.5, not 0: an instance behind RDS Proxy keeps the proxy's connections and
# never auto-pauses (DEPLOY.md), so 0 would only pretend to scale to zero.
DEFAULT_AURORA_MIN_ACU = 0.5
DEFAULT_AURORA_MAX_ACU = 4.0
AURORA_ACU_RANGE = (0.5, 256.0)
LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


@dataclass(frozen=True)
class Settings:
    """Everything a stage may change; build it with ``Settings.from_context``."""

    stage: str
    allowed_origins: tuple[str, ...]
    python_version: str
    availability_zones: tuple[str, ...]
    reserved_concurrency: int | None
    db_instance_type: str
    database: str
    aurora_min_acu: float
    aurora_max_acu: float
    db_allocated_storage_gib: int
    db_multi_az: bool
    backup_retention_days: int
    log_retention_days: int
    throttle_rate_limit: int
    throttle_burst_limit: int
    health_throttle_rate_limit: int
    health_throttle_burst_limit: int
    db_statement_timeout_ms: int
    log_level: str
    system_log_level: str
    avatar_max_bytes: int
    presign_expires_seconds: int
    self_sign_up: bool
    alarm_email: str | None

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def api_docs(self) -> bool:
        """Serve /docs and /openapi.json, without a token: dev only."""
        return not self.is_prod

    @property
    def database_memory_bytes(self) -> int:
        """Memory the connection numbers derive from: the class's, or Aurora's at most ACUs."""
        if self.database == AURORA:
            return acu_memory_bytes(self.aurora_max_acu)
        return instance_memory_bytes(self.db_instance_type)

    @property
    def removal_policy(self) -> RemovalPolicy:
        """What happens to stateful resources on delete: prod keeps them, dev does not."""
        return RemovalPolicy.RETAIN if self.is_prod else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return LOG_RETENTION[self.log_retention_days]

    @property
    def prefix(self) -> str:
        """Prefix of physical names, so stages can share an account."""
        return f"users-{self.stage}"

    @property
    def stack_name(self) -> str:
        return f"UsersService-{self.stage}"

    @property
    def metrics_namespace(self) -> str:
        """CloudWatch namespace of the app's own metrics: one per stage, like the stack."""
        return f"UsersService-{self.stage}"

    @classmethod
    def from_context(cls, node: Node) -> Settings:
        stage = _text(node, "stage", "dev")
        if stage not in STAGES:
            raise ValueError(f"context 'stage' must be one of {STAGES}, not {stage!r}")
        prod = stage == "prod"
        python_version = _text(node, "pythonVersion", DEFAULT_PYTHON_VERSION)
        if python_version not in SNAPSTART_PYTHON_VERSIONS:
            raise ValueError(
                f"context 'pythonVersion' must be one of {SNAPSTART_PYTHON_VERSIONS} "
                f"(Python runtimes with SnapStart), not {python_version!r}"
            )
        db_instance_type = _text(node, "dbInstanceType", "t4g.micro")
        memory = instance_memory_bytes(db_instance_type)  # an unknown class fails here
        database = _text(node, "database", INSTANCE)
        if database not in DATABASE_KINDS:
            raise ValueError(
                f"context 'database' must be one of {DATABASE_KINDS}, not {database!r}"
            )
        aurora_min_acu, aurora_max_acu = _acu_range(node)
        if database == AURORA:
            memory = acu_memory_bytes(aurora_max_acu)
        log_retention_days = _int(node, "logRetentionDays", 30 if prod else 7)
        if log_retention_days not in LOG_RETENTION:
            raise ValueError(f"context 'logRetentionDays' must be one of {sorted(LOG_RETENTION)}")
        return cls(
            stage=stage,
            allowed_origins=_origins(node.try_get_context("allowedOrigins"), prod=prod),
            python_version=python_version,
            availability_zones=_availability_zones(node.try_get_context("availabilityZones")),
            reserved_concurrency=_reserved_concurrency(node, memory),
            db_instance_type=db_instance_type,
            database=database,
            aurora_min_acu=aurora_min_acu,
            aurora_max_acu=aurora_max_acu,
            db_allocated_storage_gib=_int(node, "dbAllocatedStorageGiB", 20),
            db_multi_az=_bool(node, "dbMultiAz", default=prod),
            backup_retention_days=_int(node, "backupRetentionDays", 7 if prod else 1),
            log_retention_days=log_retention_days,
            throttle_rate_limit=_int(node, "throttleRateLimit", 100),
            throttle_burst_limit=_int(node, "throttleBurstLimit", 200),
            health_throttle_rate_limit=_int(node, "healthThrottleRateLimit", 5),
            health_throttle_burst_limit=_int(node, "healthThrottleBurstLimit", 10),
            db_statement_timeout_ms=_int(node, "dbStatementTimeoutMs", 4_000),
            log_level=_text(node, "logLevel", "INFO"),
            system_log_level=_system_log_level(node),
            avatar_max_bytes=_int(node, "avatarMaxBytes", 5 * 1024 * 1024),
            presign_expires_seconds=_int(node, "presignExpiresSeconds", 900),
            self_sign_up=_bool(node, "selfSignUp", default=False),
            alarm_email=_email(node.try_get_context("alarmEmail")),
        )


def _text(node: Node, key: str, default: str) -> str:
    value: Any = node.try_get_context(key)
    return default if value in (None, "") else str(value)


def _int(node: Node, key: str, default: int) -> int:
    return int(_text(node, key, str(default)))


def _bool(node: Node, key: str, *, default: bool) -> bool:
    value: Any = node.try_get_context(key)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _reserved_concurrency(node: Node, memory_bytes: int) -> int | None:
    """Unset unless asked: a number, or "auto" for the database's connection budget."""
    value: Any = node.try_get_context("reservedConcurrency")
    text = "" if value is None else str(value).strip().lower()
    if text in ("", NO_RESERVED_CONCURRENCY):
        return None
    if text == AUTO_RESERVED_CONCURRENCY:
        return connection_budget_for_memory(memory_bytes)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"context 'reservedConcurrency' must be a number of at least 1, "
            f"{AUTO_RESERVED_CONCURRENCY!r} or {NO_RESERVED_CONCURRENCY!r}, not {value!r}"
        )
    return int(text)


def _acu_range(node: Node) -> tuple[float, float]:
    """Aurora Serverless v2's minimum and maximum ACUs: half steps, 0.5 to 256, min <= max."""
    low, high = AURORA_ACU_RANGE
    values = []
    for key, default in (
        ("auroraMinAcu", DEFAULT_AURORA_MIN_ACU),
        ("auroraMaxAcu", DEFAULT_AURORA_MAX_ACU),
    ):
        value = float(_text(node, key, str(default)))
        if not low <= value <= high or (value * 2) % 1:
            raise ValueError(
                f"context '{key}' must be a multiple of 0.5 from {low} to {high}, not {value}"
                + (
                    " (0 would ask for auto-pause, which never happens behind RDS Proxy: "
                    "infra/DEPLOY.md, 'The Aurora option')"
                    if value == 0
                    else ""
                )
            )
        values.append(value)
    minimum, maximum = values
    if minimum > maximum:
        raise ValueError(f"context 'auroraMinAcu' ({minimum}) is above 'auroraMaxAcu' ({maximum})")
    return minimum, maximum


def _system_log_level(node: Node) -> str:
    """Lambda's platform records of the API function: INFO keeps the per-invocation reports."""
    level = _text(node, "systemLogLevel", "INFO").upper()
    if level not in SYSTEM_LOG_LEVELS:
        raise ValueError(f"context 'systemLogLevel' must be one of {SYSTEM_LOG_LEVELS}")
    return level


def _availability_zones(value: Any) -> tuple[str, ...]:
    """Zone names ("eu-west-1a") or letters ("a", joined to the region), two or more."""
    if value in (None, ""):
        return DEFAULT_AVAILABILITY_ZONES
    items = value if isinstance(value, list) else str(value).split(",")
    zones = tuple(zone.strip() for zone in items if zone.strip())
    if len(zones) < 2 or len(set(zones)) != len(zones):
        raise ValueError(
            "context 'availabilityZones' needs two or more distinct zones "
            "(RDS and RDS Proxy subnet groups span at least two)"
        )
    return zones


def _origins(value: Any, *, prod: bool) -> tuple[str, ...]:
    """A JSON list from cdk.json or a comma-separated string from ``-c``; prod has no default."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    origins = tuple(origin.strip() for origin in items if origin.strip())
    if origins:
        return origins
    if prod:
        raise ValueError(
            "context 'allowedOrigins' must name prod's browser origins, e.g. "
            "-c allowedOrigins=https://app.example.com (make ... ORIGINS=...): "
            "prod never falls back to the localhost origins of dev"
        )
    return DEFAULT_ALLOWED_ORIGINS


def _email(value: Any) -> str | None:
    """An address for alarm notifications, or None; only a rough check, SNS confirms it."""
    if value in (None, ""):
        return None
    address = str(value).strip()
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address):
        raise ValueError(f"context 'alarmEmail' must be an email address, not {address!r}")
    return address

"""The schema as SQLAlchemy Core tables: what requests query, without loading the ORM."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    Identity,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from lambda_app.utils.user_type_enum import UserType

# Stable constraint names make migrations reviewable and errors recognisable.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
EMAIL_MAX_LENGTH = 320
FULL_NAME_MAX_LENGTH = 200
SUBJECT_MAX_LENGTH = 255
# The IETF Idempotency-Key draft leaves the length to the server; Stripe's is 255 too.
IDEMPOTENCY_KEY_MAX_LENGTH = 255
OUTBOX_KIND_MAX_LENGTH = 64
OUTBOX_ERROR_MAX_LENGTH = 1000

metadata = MetaData(naming_convention=NAMING_CONVENTION)

user_type_enum = Enum(
    UserType,
    name="user_type",
    values_callable=lambda members: [member.value for member in members],
    validate_strings=True,
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True, server_default=text("gen_random_uuid()")),
    Column("email", String(EMAIL_MAX_LENGTH), nullable=False, unique=True),
    Column("full_name", String(FULL_NAME_MAX_LENGTH), nullable=True),
    Column("user_type", user_type_enum, nullable=False, server_default=UserType.CUSTOMER.value),
    Column("subject", String(SUBJECT_MAX_LENGTH), nullable=True, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Raised by a trigger on every UPDATE (migration 0005): the ETag, whatever the statement.
    Column("version", BigInteger, nullable=False, server_default="1"),
    # Stored emails are normalised, so the unique constraint is case-insensitive.
    CheckConstraint("email = lower(btrim(email))", name="email_normalized"),
    Index("ix_users_created_at_id", "created_at", "id"),
)

# Kept by database triggers (migration 0003): one row per user_type with its number of users.
user_counts = Table(
    "user_counts",
    metadata,
    Column("user_type", user_type_enum, primary_key=True),
    Column("total", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("total >= 0", name="total_not_negative"),
)

# A caller's first successful answer to an Idempotency-Key, written in the transaction of the
# change it answers; expired rows are purged by later keyed requests (crud/idempotency.py).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("subject", String(SUBJECT_MAX_LENGTH), nullable=False),
    Column("idempotency_key", String(IDEMPOTENCY_KEY_MAX_LENGTH), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", BigInteger, nullable=False),
    Column("body", JSONB, nullable=True),
    Column("headers", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("subject", "idempotency_key"),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# Work on another system (S3; later Cognito) that a committed change still owes: enqueued in
# the change's own statement or transaction, done after it commits (crud/outbox.py). A task
# is pending until it is done (then deleted) or has failed too often (dead-lettered).
outbox_tasks = Table(
    "outbox_tasks",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("kind", String(OUTBOX_KIND_MAX_LENGTH), nullable=False),
    # What the task is about, e.g. a user's id.
    Column("subject", String(SUBJECT_MAX_LENGTH), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("attempts", BigInteger, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", String(OUTBOX_ERROR_MAX_LENGTH), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("dead_lettered_at", DateTime(timezone=True), nullable=True),
    # The drain's search: pending tasks by when they are due.
    Index(
        "ix_outbox_tasks_due",
        "next_attempt_at",
        postgresql_where=text("dead_lettered_at IS NULL"),
    ),
)

"""Row versions for ETags, and the idempotency keys table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

`users.version` starts at 1 and a BEFORE UPDATE trigger raises it on every UPDATE, whatever
the statement sets: the API's ETag is derived from it, so it must change whenever any field
does (also for updates the API does not make, like bootstrap-admin or an operator's SQL).
Adding a NOT NULL column with a constant default rewrites no rows (PostgreSQL 11+).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP_VERSION_FUNCTION = """
CREATE FUNCTION bump_user_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "users", sa.Column("version", sa.BigInteger(), server_default="1", nullable=False)
    )
    op.execute(BUMP_VERSION_FUNCTION)
    op.execute(
        "CREATE TRIGGER users_bump_version BEFORE UPDATE ON users "
        "FOR EACH ROW EXECUTE FUNCTION bump_user_version()"
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.BigInteger(), nullable=False),
        sa.Column("body", postgresql.JSONB(), nullable=True),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("subject", "idempotency_key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(
        op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.execute("DROP TRIGGER users_bump_version ON users")
    op.execute("DROP FUNCTION bump_user_version()")
    op.drop_column("users", "version")

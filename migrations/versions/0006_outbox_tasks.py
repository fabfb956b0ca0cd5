"""The outbox: work on other systems that a committed change still owes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

Expand only: a new table that the previous release never reads, so it runs unchanged on this
schema (its deletes keep their old S3-inside-the-transaction path until it is replaced).
The app role gets DML on it with every other table (crud/app_role.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "outbox_tasks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("dead_lettered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_tasks")),
    )
    op.create_index(
        "ix_outbox_tasks_due",
        "outbox_tasks",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("dead_lettered_at IS NULL"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(
        "ix_outbox_tasks_due",
        table_name="outbox_tasks",
        postgresql_where=sa.text("dead_lettered_at IS NULL"),
    )
    op.drop_table("outbox_tasks")

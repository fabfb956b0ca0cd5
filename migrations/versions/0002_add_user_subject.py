"""Link users to identities: a unique, nullable `subject` (the token's `sub`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("users", sa.Column("subject", sa.String(length=255), nullable=True))
    op.create_unique_constraint(op.f("uq_users_subject"), "users", ["subject"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_constraint(op.f("uq_users_subject"), "users", type_="unique")
    op.drop_column("users", "subject")

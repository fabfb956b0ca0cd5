"""Keep the number of users per user_type, so list totals cost the same at any size.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Row triggers keep the counts exact inside every transaction; a statement trigger
# covers TRUNCATE, which fires no row triggers.
COUNT_FUNCTION = """
CREATE FUNCTION count_users_by_type() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE user_counts SET total = 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE user_counts SET total = total - 1 WHERE user_type = OLD.user_type;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE user_counts SET total = total + 1 WHERE user_type = NEW.user_type;
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """Apply this revision."""
    user_type = postgresql.ENUM(name="user_type", create_type=False)
    op.create_table(
        "user_counts",
        sa.Column("user_type", user_type, nullable=False),
        sa.Column("total", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("total >= 0", name=op.f("ck_user_counts_total_not_negative")),
        sa.PrimaryKeyConstraint("user_type", name=op.f("pk_user_counts")),
    )
    op.execute(
        "INSERT INTO user_counts (user_type, total) "
        "SELECT kind, (SELECT count(*) FROM users WHERE users.user_type = kind) "
        "FROM unnest(enum_range(NULL::user_type)) AS kind"
    )
    op.execute(COUNT_FUNCTION)
    op.execute(
        "CREATE TRIGGER users_count_rows AFTER INSERT OR DELETE OR UPDATE OF user_type "
        "ON users FOR EACH ROW EXECUTE FUNCTION count_users_by_type()"
    )
    op.execute(
        "CREATE TRIGGER users_count_truncate AFTER TRUNCATE ON users "
        "FOR EACH STATEMENT EXECUTE FUNCTION count_users_by_type()"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER users_count_truncate ON users")
    op.execute("DROP TRIGGER users_count_rows ON users")
    op.execute("DROP FUNCTION count_users_by_type()")
    op.drop_table("user_counts")

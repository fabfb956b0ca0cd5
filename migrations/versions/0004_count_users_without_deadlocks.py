"""Count users per type without deadlocks or long counter locks, and recount once under a lock.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

0003's row trigger updated the counters as each row changed, so a transaction held its
counter row until it ended (a user delete waits for S3 inside its transaction, and every
sign-up of that type queued behind it), and two opposite type changes locked the two
counters in opposite order (a deadlock). Its backfill also missed rows committed between
the count and the trigger. Here the counters change at commit (deferred constraint
triggers), always in user_type order, only when the type really changes, and a counter row
appears for any new user_type value; the totals are recounted while writers are blocked.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION count_users_by_type() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kinds user_type[];
    deltas bigint[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE user_counts SET total = 0;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        kinds := ARRAY[NEW.user_type];
        deltas := ARRAY[1];
    ELSIF TG_OP = 'DELETE' THEN
        kinds := ARRAY[OLD.user_type];
        deltas := ARRAY[-1];
    ELSE
        kinds := ARRAY[OLD.user_type, NEW.user_type];
        deltas := ARRAY[-1, 1];
    END IF;
    -- A counter row for a user_type value added after this migration.
    INSERT INTO user_counts (user_type, total)
    SELECT kind, 0 FROM unnest(kinds) AS kind ORDER BY kind
    ON CONFLICT (user_type) DO NOTHING;
    -- Lock the counters in user_type order: concurrent changes cannot wait on each other
    -- in a cycle.
    PERFORM 1 FROM user_counts WHERE user_type = ANY (kinds) ORDER BY user_type FOR UPDATE;
    UPDATE user_counts SET total = total + change.delta
    FROM unnest(kinds, deltas) AS change (kind, delta)
    WHERE user_counts.user_type = change.kind;
    RETURN NULL;
END
$$
"""
RECOUNT = """
INSERT INTO user_counts (user_type, total)
SELECT kind, (SELECT count(*) FROM users WHERE users.user_type = kind)
FROM unnest(enum_range(NULL::user_type)) AS kind
ON CONFLICT (user_type) DO UPDATE SET total = EXCLUDED.total
"""


def upgrade() -> None:
    """Apply this revision."""
    # Writers wait (readers do not) until the commit, so the recount misses no row.
    op.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
    op.execute("DROP TRIGGER users_count_rows ON users")
    op.execute(COUNT_FUNCTION)
    op.execute(
        "CREATE CONSTRAINT TRIGGER users_count_inserts_deletes AFTER INSERT OR DELETE ON users "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION count_users_by_type()"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER users_count_type_changes AFTER UPDATE OF user_type ON users "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "WHEN (OLD.user_type IS DISTINCT FROM NEW.user_type) "
        "EXECUTE FUNCTION count_users_by_type()"
    )
    op.execute(RECOUNT)


def downgrade() -> None:
    """Revert this revision: 0003's trigger and function, as 0003 made them."""
    op.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
    op.execute("DROP TRIGGER users_count_type_changes ON users")
    op.execute("DROP TRIGGER users_count_inserts_deletes ON users")
    previous = _revision_0003()
    op.execute(previous.COUNT_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
    op.execute(
        "CREATE TRIGGER users_count_rows AFTER INSERT OR DELETE OR UPDATE OF user_type "
        "ON users FOR EACH ROW EXECUTE FUNCTION count_users_by_type()"
    )
    op.execute(RECOUNT)


def _revision_0003() -> ModuleType:
    """0003's module, for its function body (one definition of it)."""
    path = Path(__file__).with_name("0003_count_users_by_type.py")
    spec = importlib.util.spec_from_file_location("revision_0003", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""Everything a migration run could change in a database, in a form two runs can compare."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text

# Each answers one part of the state; all are ordered, so equal states compare equal.
STATE_QUERIES = {
    "revision": "SELECT version_num FROM alembic_version ORDER BY 1",
    "columns": (
        "SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
    ),
    "constraints": (
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
    ),
    "indexes": (
        "SELECT tablename, indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = 'public' ORDER BY 1, 2"
    ),
    "triggers": (
        "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger"
        " WHERE NOT tgisinternal ORDER BY 1, 2"
    ),
    "functions": (
        "SELECT proname, md5(pg_get_functiondef(oid)) FROM pg_proc"
        " WHERE pronamespace = 'public'::regnamespace AND prokind = 'f' ORDER BY 1, 2"
    ),
    "types": (
        "SELECT t.typname, e.enumsortorder, e.enumlabel FROM pg_enum e"
        " JOIN pg_type t ON t.oid = e.enumtypid ORDER BY 1, 2"
    ),
    "table_grants": (
        "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants"
        " WHERE table_schema = 'public' ORDER BY 1, 2, 3"
    ),
    "schema_and_database_grants": (
        "SELECT (SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public'),"
        " (SELECT datacl::text FROM pg_database WHERE datname = current_database())"
    ),
    # The verifier's digest, not the verifier: a failed comparison prints what it compares.
    "app_role": (
        "SELECT r.rolname, r.rolconfig, md5(coalesce(a.rolpassword, '')) FROM pg_roles r"
        " JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = :role"
    ),
}
# The number of rows of a table and a digest of their text.
_ROWS = "SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {} t"
_TABLES = text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")


def database_state(url: str, app_role: str) -> dict[str, Any]:
    """The schema, revision, grants, the app role and a digest of every table's rows.

    `url` logs in as a superuser (the role's password verifier is only in pg_authid).
    """
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            state: dict[str, Any] = {
                name: [tuple(row) for row in connection.execute(text(query), {"role": app_role})]
                for name, query in STATE_QUERIES.items()
            }
            preparer = connection.dialect.identifier_preparer
            state["rows"] = {
                table: tuple(
                    connection.execute(text(_ROWS.format(preparer.quote_identifier(table)))).one()
                )
                for table in connection.scalars(_TABLES)
            }
    finally:
        engine.dispose()
    return state

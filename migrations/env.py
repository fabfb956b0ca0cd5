"""Alembic environment: the app's metadata, the app's settings, the app's logging."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from lambda_app.config import get_settings
from lambda_app.db import MIGRATION_APPLICATION_NAME, create_engine_from_settings
from lambda_app.migrate import apply_timeouts, migration_timeouts
from lambda_app.models.tables import metadata

config = context.config
OFFLINE_URL = "postgresql://offline/users"
target_metadata = metadata

# Only the alembic command line configures logging; inside the app or the migration
# Lambda (which pass a connection) the caller's logging stays as it is.
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout for `alembic upgrade --sql`."""
    # Only the dialect matters offline: nothing connects.
    url = get_settings().database_url or OFFLINE_URL
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        # The same timeouts the migration function applies, so a script run by hand
        # cannot queue live requests behind a lock either.
        for name, value in migration_timeouts(get_settings()).items():
            context.execute(f"SET LOCAL {name} = '{value}'")
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate on the caller's connection, or on a fresh one built from the settings."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_from_settings(
        get_settings(),
        socket_timeout=300,
        pooled=False,
        application_name=MIGRATION_APPLICATION_NAME,
    )
    with engine.connect() as fresh_connection:
        _configure(fresh_connection)
        with context.begin_transaction():
            apply_timeouts(fresh_connection, get_settings())
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

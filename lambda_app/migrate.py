"""The migration Lambda: Alembic upgrade, downgrade or current, one runner at a time."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from lambda_app.config import Settings, get_settings
from lambda_app.crud.app_role import ensure_app_role
from lambda_app.crud.users import promote_to_admin
from lambda_app.db import (
    MIGRATION_APPLICATION_NAME,
    create_engine_from_settings,
    server_error_field,
)

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Any fixed 64-bit number works; every runner must use the same one.
MIGRATION_LOCK_ID = 0x75736572735F6D67  # "users_mg"
ACTIONS = ("upgrade", "downgrade", "current", "bootstrap-admin")
MIGRATION_SOCKET_TIMEOUT_SECONDS = 300.0
# Below the socket timeout: the server cancels a runaway statement before the client gives up.
MIGRATION_STATEMENT_TIMEOUT = "240s"
# Pause before the next try of a migration that found a table lock busy, times the try number.
LOCK_RETRY_SECONDS = 1.0
LOCK_NOT_AVAILABLE = "55P03"
# What a prod event must carry to downgrade to base.
CONFIRM_BASE = "drop every table"


class MigrationRequestError(ValueError):
    """The event asks for something the migration function cannot do."""


def handler(event: dict[str, Any] | None, _context: Any = None) -> dict[str, Any]:
    """Run `{"action": "upgrade"|"downgrade"|"current", "revision": ...}`; upgrade head by default.

    Returns the action and the revisions before and after. Raises on a bad request or
    a failed migration, so that a CDK trigger fails the deploy. An event without "action" is
    the deploy's run, which does nothing on a database a newer release has migrated.
    """
    event = event or {}
    deploy_run = is_deploy_run(event)
    action, revision = _read_request(event)
    if action == "bootstrap-admin":
        return bootstrap_admin(event)
    settings = get_settings()
    _refuse_unconfirmed_wipe(event, settings, revision)
    engine = create_engine_from_settings(
        settings,
        socket_timeout=MIGRATION_SOCKET_TIMEOUT_SECONDS,
        pooled=False,
        application_name=MIGRATION_APPLICATION_NAME,
    )
    try:
        for attempt in range(1, settings.migration_attempts + 1):
            try:
                outcome = _migrate_once(engine, settings, action, revision, deploy_run=deploy_run)
                break
            except DBAPIError as error:
                busy = server_error_field(error, "C") == LOCK_NOT_AVAILABLE
                if not busy or attempt == settings.migration_attempts:
                    raise
                logger.warning("Migration %s: a table lock was busy (try %d)", action, attempt)
                time.sleep(LOCK_RETRY_SECONDS * attempt)
    finally:
        engine.dispose()
    logger.info("Migration %s: %s -> %s", action, outcome["before"], outcome["after"])
    return outcome


def is_deploy_run(event: dict[str, Any]) -> bool:
    """Whether `event` is what the deploy's CDK trigger sends, rather than an operator's request.

    The trigger invokes the function with no payload (aws-cdk-lib's triggers provider passes
    only the function name and invocation type), which Lambda hands over as {}; an operator
    names the action.
    """
    return "action" not in event


def _migrate_once(
    engine: Engine, settings: Settings, action: str, revision: str | None, *, deploy_run: bool
) -> dict[str, Any]:
    """One try in one transaction: wait for the other runners, migrate, grant, commit.

    Everything, the lock included, lives and dies with the transaction, so it works through
    a transaction-pooling proxy. A table lock is waited for only MIGRATION_LOCK_TIMEOUT_MS:
    a migration that cannot get one fails instead of queueing live requests behind it.
    """
    with engine.connect() as connection:
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_ID)))
        apply_timeouts(connection, settings)
        before = current_revision(connection)
        if action in ("upgrade", "downgrade"):
            if before is not None and before not in _known_revisions():
                return _database_ahead(action, before, deploy_run=deploy_run)
            _run_alembic(connection, action, revision)
        if action == "upgrade":
            ensure_app_role(connection, settings)
        after = current_revision(connection)
        connection.commit()
    return {"action": action, "before": before, "after": after}


def _database_ahead(action: str, before: str, *, deploy_run: bool) -> dict[str, Any]:
    """A database a newer release migrated: the deploy's run leaves it alone, anything else fails.

    A CloudFormation rollback runs this (older) release's trigger again, on a schema it can
    serve (migrations are expand/contract): there is nothing to do, and failing would leave
    the stack in UPDATE_ROLLBACK_FAILED. The app role stays as the newer release made it.
    """
    situation = (
        f"the database is at revision {before}, which this release does not know"
        f" (its newest is {_newest_revision()}): a newer release migrated it"
    )
    if not deploy_run:
        raise MigrationRequestError(
            f"Cannot {action}: {situation}. Use the migration function of that release."
        )
    logger.warning(
        "Migration %s skipped, nothing changed: %s. A CloudFormation rollback that runs this"
        " release's deploy trigger again does this.",
        action,
        situation,
    )
    return {"action": action, "before": before, "after": before, "skipped": "database ahead"}


def migration_timeouts(settings: Settings) -> dict[str, str]:
    """The timeouts every migration runs under, for this transaction only (SET LOCAL)."""
    return {
        "lock_timeout": f"{settings.migration_lock_timeout_ms}ms",
        "statement_timeout": MIGRATION_STATEMENT_TIMEOUT,
    }


def apply_timeouts(connection: Connection, settings: Settings) -> None:
    """Set the migration timeouts on the transaction `connection` is in."""
    for name, value in migration_timeouts(settings).items():
        connection.execute(select(func.set_config(name, value, True)))


def bootstrap_admin(event: dict[str, Any]) -> dict[str, Any]:
    """Make the user with this email an admin linked to `subject`, creating them if needed."""
    from pydantic import ValidationError

    from lambda_app.schemas.bootstrap import AdminBootstrap

    try:
        request = AdminBootstrap.model_validate(
            {"email": event.get("email"), "subject": event.get("subject")}
        )
    except ValidationError as error:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
        raise MigrationRequestError(
            f"bootstrap-admin needs email and subject ({problems})."
        ) from None
    engine = create_engine_from_settings(
        get_settings(), pooled=False, application_name=MIGRATION_APPLICATION_NAME
    )
    try:
        with engine.begin() as connection:
            user_id, created = promote_to_admin(
                connection, email=request.email, subject=request.subject
            )
    finally:
        engine.dispose()
    logger.info("Bootstrap admin %s (%s)", user_id, "created" if created else "promoted")
    return {"action": "bootstrap-admin", "user_id": str(user_id), "created": created}


def _read_request(event: dict[str, Any]) -> tuple[str, str | None]:
    action = event.get("action", "upgrade")
    if action not in ACTIONS:
        raise MigrationRequestError(
            f"Unknown action {action!r}; expected one of: {', '.join(ACTIONS)}."
        )
    revision = event.get("revision")
    if action == "upgrade":
        revision = revision or "head"
    if action == "bootstrap-admin":
        return action, None
    if action == "downgrade" and not revision:
        raise MigrationRequestError('A downgrade needs a "revision", e.g. "-1" or "base".')
    if revision is not None and not isinstance(revision, str):
        raise MigrationRequestError('"revision" must be a string.')
    return action, revision


def _refuse_unconfirmed_wipe(
    event: dict[str, Any], settings: Settings, revision: str | None
) -> None:
    """In prod, a downgrade to base (every table dropped) needs the event to say so."""
    if revision == "base" and settings.stage == "prod" and event.get("confirm") != CONFIRM_BASE:
        raise MigrationRequestError(
            f'A downgrade to base drops every table; in prod, add "confirm": "{CONFIRM_BASE}".'
        )


def current_revision(connection: Connection) -> str | None:
    """Return the revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _known_revisions() -> set[str]:
    """Every revision of this release's migrations."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


def _newest_revision() -> str:
    """This release's newest revision (its heads, should there be several)."""
    from alembic.script import ScriptDirectory

    return ", ".join(ScriptDirectory.from_config(alembic_config()).get_heads())


def alembic_config() -> Any:
    """Return the Alembic configuration of the project (alembic.ini beside lambda_app/)."""
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


def _run_alembic(connection: Connection, command_name: str, revision: str | None) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, command_name)(config, revision)

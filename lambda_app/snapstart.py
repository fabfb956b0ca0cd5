"""SnapStart: do the first request's reusable work during init; keep nothing unique in it.

Lambda runs init with `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start` before it takes a
snapshot, and restores every new environment of the version from that snapshot. Init then
builds everything a request needs (the engine and its TLS context, the crud statements, the
IAM token signer and its credentials, the S3 client, and the Cognito client where the service
provisions identities), so that no request after a restore imports a module or builds a
statement. The
hooks drop what must not be shared or may expire: connections, credentials, the random state.
Without SnapStart, init builds the engines only (the writer's, and the read replica's when
DB_READER_HOST is set); the rest waits for the request that needs it.
"""

from __future__ import annotations

import logging
import os
import random
import ssl
from contextlib import suppress

from lambda_app.config import get_settings
from lambda_app.crud import build_statements
from lambda_app.db import dispose_engine, get_engine, get_reader_engine
from lambda_app.exceptions import DatabaseUnavailableError
from lambda_app.external_services.aws import get_s3_client, reset_s3_client
from lambda_app.external_services.cognito import (
    get_cognito_client,
    provisioning_enabled,
    reset_cognito_client,
)
from lambda_app.external_services.iam_auth import role_credentials

logger = logging.getLogger(__name__)

# Lambda's variable naming the kind of init: on-demand, provisioned-concurrency or snap-start.
INITIALIZATION_TYPE_VARIABLE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"
# Fresh entropy mixed into OpenSSL's generator after a restore (bytes, as entropy estimate).
RESTORE_ENTROPY_BYTES = 32


def taking_snapshot() -> bool:
    """Tell whether this init runs for a SnapStart snapshot."""
    return os.environ.get(INITIALIZATION_TYPE_VARIABLE) == SNAP_START


def warm_up() -> None:
    """Do the reusable work of the first request during init.

    Always builds the engine (loading the PostgreSQL dialect, the driver and the TLS
    context) without connecting. For a snapshot it also builds every crud statement,
    resolves the credentials that sign IAM tokens and builds the S3 and Cognito clients,
    which a restored environment would otherwise pay for on its first request.
    """
    try:
        get_engine()
        get_reader_engine()
    except DatabaseUnavailableError:
        logger.warning("No database configured yet; requests will answer 503")
        return
    if not taking_snapshot():
        return
    build_statements()
    if get_settings().db_iam_auth:
        role_credentials.prepare()
    get_s3_client()
    if provisioning_enabled():
        get_cognito_client()


def before_snapshot() -> None:
    """Close what the snapshot must not contain: connections, credentials, cached clients.

    The engine is built again at once, unconnected and without credentials, so that the
    snapshot keeps the work of building it.
    """
    dispose_engine()  # both engines, and the credentials cached with them
    role_credentials.forget()
    reset_s3_client()
    reset_cognito_client()
    with suppress(DatabaseUnavailableError):
        get_engine()
        get_reader_engine()


def after_restore() -> None:
    """Start fresh in each restored environment: new connections, credentials and seeds."""
    with suppress(DatabaseUnavailableError):
        get_engine().dispose()  # a connection opened after the snapshot hook, if any
        reader = get_reader_engine()
        if reader is not None:
            reader.dispose()
    role_credentials.forget()
    reset_s3_client()
    reset_cognito_client()
    # Every environment restored from one snapshot would otherwise draw the same numbers:
    # Python's `random`, and OpenSSL's generator behind TLS handshakes.
    random.seed()
    ssl.RAND_add(os.urandom(RESTORE_ENTROPY_BYTES), RESTORE_ENTROPY_BYTES)


def register_hooks() -> None:
    """Register the SnapStart runtime hooks (a no-op where the hooks library is absent)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # outside Lambda, e.g. uvicorn and tests
        return
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)

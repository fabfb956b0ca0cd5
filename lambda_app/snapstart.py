"""SnapStart: warm up during init, and never reuse snapshot state that must be unique."""

from __future__ import annotations

import logging
import random

from lambda_app.db import dispose_engine, get_engine
from lambda_app.exceptions import DatabaseUnavailableError
from lambda_app.external_services.aws import reset_s3_client

logger = logging.getLogger(__name__)


def warm_up() -> None:
    """Do the reusable work of the first request during init, which SnapStart snapshots.

    Builds the engine (loading the PostgreSQL dialect and driver) without connecting; the
    first request then only connects and queries.
    """
    try:
        get_engine()
    except DatabaseUnavailableError:
        logger.warning("No database configured yet; requests will answer 503")


def before_snapshot() -> None:
    """Close whatever the snapshot must not contain: pooled connections, cached clients."""
    dispose_engine()  # also drops the credentials cached with it
    reset_s3_client()


def after_restore() -> None:
    """Start fresh in each restored environment: new connections, credentials and seed."""
    dispose_engine()
    reset_s3_client()
    # Every environment restored from one snapshot would otherwise draw the same numbers.
    random.seed()


def register_hooks() -> None:
    """Register the SnapStart runtime hooks (a no-op where the hooks library is absent)."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # outside Lambda, e.g. uvicorn and tests
        return
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)

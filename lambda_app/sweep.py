"""The file sweep Lambda: removes files left under users/{id}/ by users who no longer exist.

A presigned upload form stays valid for PRESIGN_EXPIRES_SECONDS, and S3 cannot revoke it:
a form issued before a user was deleted can still put a file there afterwards. The sweep,
run on a schedule, finds such folders and deletes every version in them.
"""

from __future__ import annotations

import logging
from typing import Any

from lambda_app.config import get_settings
from lambda_app.crud.users import existing_user_ids
from lambda_app.db import create_engine_from_settings
from lambda_app.deadline import Deadline
from lambda_app.external_services import aws

logger = logging.getLogger(__name__)
SWEEP_APPLICATION_NAME = "users-service-sweep"


def handler(_event: Any = None, context: Any = None) -> dict[str, int]:
    """Delete the files of users that no longer exist; return how many folders and versions."""
    deadline = Deadline.of_invocation(context)
    with_files = aws.user_ids_with_files(deadline=deadline)
    if not with_files:
        return {"orphaned_users": 0, "deleted_versions": 0}
    engine = create_engine_from_settings(
        get_settings(), pooled=False, autocommit=True, application_name=SWEEP_APPLICATION_NAME
    )
    try:
        with engine.connect() as connection:
            orphans = with_files - existing_user_ids(connection, user_ids=with_files)
    finally:
        engine.dispose()
    # A user deleted while this runs is still listed as existing: the next sweep takes it.
    deleted = sum(aws.delete_user_files(user_id, deadline=deadline) for user_id in sorted(orphans))
    logger.info("Swept files of %d deleted users (%d versions)", len(orphans), deleted)
    return {"orphaned_users": len(orphans), "deleted_versions": deleted}

"""S3: presigned avatar uploads and downloads, and removal of a user's files.

Every call that reaches S3 takes the caller's deadline: an attempt that could not finish
before it (its connect and read timeouts) is not started, so a slow S3 fails the request in
bounded time instead of outliving the Lambda invocation or API Gateway's wait.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, NamedTuple

from lambda_app.config import Settings, get_settings
from lambda_app.deadline import Deadline
from lambda_app.exceptions import (
    AvatarNotFoundError,
    StorageNotConfiguredError,
    StorageUnavailableError,
)
from lambda_app.external_services.attempt_deadline import AttemptDeadline, DeadlineReachedError
from lambda_app.external_services.conditional_delete import accept_if_match_on_delete

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

_client: S3Client | None = None
_client_lock = threading.Lock()
# The deadline of the S3 call in progress in this context (set by `_storage_call`).
_attempts = AttemptDeadline("s3")

# DeleteObjects takes at most this many keys per request.
_DELETE_OBJECTS_LIMIT = 1000
# A conditional delete of an avatar is retried this often when it changes underneath.
_DELETE_ATTEMPTS = 3
# Answers of a conditional delete whose object changed or vanished since it was listed:
# 412 (another ETag), 409 (a concurrent write won), 404 (deleted meanwhile). 403 is
# listed too: without an unconditional s3:ListBucket S3 may hide a missing key behind
# it; the next listing tells which, and a real denial still fails on the last attempt.
_OBJECT_CHANGED_CODES = frozenset(
    {"PreconditionFailed", "412", "ConditionalRequestConflict", "409", "NoSuchKey", "404"}
    | {"AccessDenied", "403"}
)


class PresignedPost(NamedTuple):
    """An S3 form upload: POST `fields` plus the file to `url`."""

    url: str
    fields: dict[str, str]
    key: str
    expires_in: int


class PresignedGet(NamedTuple):
    """A time-limited download link."""

    url: str
    expires_in: int


# Every stored file lives under users/{id}/; the IAM policies grant this prefix only.
USER_FILES_PREFIX = "users/"


def user_prefix(user_id: uuid.UUID) -> str:
    """Return the key prefix under which every file of a user lives."""
    return f"{USER_FILES_PREFIX}{user_id}/"


def avatar_key(user_id: uuid.UUID) -> str:
    """Return the object key of a user's avatar."""
    return f"{user_prefix(user_id)}avatar"


def get_s3_client() -> S3Client:
    """Return this process's S3 client, creating it on first use."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = create_s3_client(get_settings())
    return _client


def reset_s3_client() -> None:
    """Forget the client (tests, SnapStart restore); the next call builds a new one."""
    global _client
    with _client_lock:
        _client = None


def create_s3_client(settings: Settings) -> S3Client:
    """Build an S3 client: SigV4, short timeouts, bounded retries."""
    import boto3  # deferred: requests that never touch S3 don't pay for the import
    from botocore.config import Config

    config = Config(
        region_name=settings.aws_region,
        signature_version="s3v4",
        connect_timeout=settings.s3_connect_timeout,
        read_timeout=settings.s3_read_timeout,
        retries={"max_attempts": settings.s3_max_attempts, "mode": "standard"},
        # A custom endpoint (the local moto server) has no per-bucket DNS names.
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
    )
    client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)
    accept_if_match_on_delete(client)
    _attempts.install(client, attempt_seconds=longest_attempt_seconds(settings))
    return client


def longest_attempt_seconds(settings: Settings) -> float:
    """The longest one S3 attempt may take: its connect timeout, then its read timeout."""
    return settings.s3_connect_timeout + settings.s3_read_timeout


def _bucket() -> str:
    bucket = get_settings().s3_bucket
    if not bucket:
        raise StorageNotConfiguredError("No S3 bucket is configured: set S3_BUCKET.")
    return bucket


def presign_avatar_upload(user_id: uuid.UUID, *, content_type: str) -> PresignedPost:
    """Return a presigned POST that accepts one avatar of `content_type` up to the size cap."""
    settings = get_settings()
    key = avatar_key(user_id)
    # Signed locally: no request reaches S3, so no deadline applies.
    with _storage_call(None):
        post = get_s3_client().generate_presigned_post(
            Bucket=_bucket(),
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, settings.avatar_max_bytes],
            ],
            ExpiresIn=settings.presign_expires_seconds,
        )
    return PresignedPost(
        url=post["url"],
        fields={name: str(value) for name, value in post["fields"].items()},
        key=key,
        expires_in=settings.presign_expires_seconds,
    )


def presign_avatar_download(user_id: uuid.UUID, *, deadline: Deadline) -> PresignedGet:
    """Return a presigned GET of the user's avatar; raise when none was uploaded."""
    settings = get_settings()
    bucket, key = _bucket(), avatar_key(user_id)
    client = get_s3_client()
    with _storage_call(deadline):
        if _current_etag(client, bucket, key) is None:
            raise AvatarNotFoundError(f"User {user_id} has no avatar.")
        url = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key},
            ExpiresIn=settings.presign_expires_seconds,
        )
    return PresignedGet(url=url, expires_in=settings.presign_expires_seconds)


def delete_avatar(user_id: uuid.UUID, *, deadline: Deadline) -> None:
    """Delete the user's avatar; raise when none was uploaded.

    The delete names the ETag just listed (a conditional delete), so an avatar replaced
    or deleted in between is listed again instead of being reported from stale state:
    of two concurrent deletes, one answers 204 and the other 404.
    """
    bucket, key = _bucket(), avatar_key(user_id)
    client = get_s3_client()
    with _storage_call(deadline):
        for attempt in range(1, _DELETE_ATTEMPTS + 1):
            etag = _current_etag(client, bucket, key)
            if etag is None:
                raise AvatarNotFoundError(f"User {user_id} has no avatar.")
            if _delete_if_unchanged(
                client, bucket, key, etag, last_attempt=attempt == _DELETE_ATTEMPTS
            ):
                return


def delete_user_files(user_id: uuid.UUID, *, deadline: Deadline) -> int:
    """Delete every version of every object under the user's prefix; return how many.

    A versioned bucket keeps a plain delete as a delete marker over the old versions,
    so each version (delete markers included) is deleted by its version id.
    """
    bucket = get_settings().s3_bucket
    if not bucket:
        return 0  # nothing can have been stored without a bucket
    client = get_s3_client()
    removed = 0
    with _storage_call(deadline):
        paginator = client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=user_prefix(user_id)):
            versions: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in (*page.get("Versions", []), *page.get("DeleteMarkers", []))
            ]
            for start in range(0, len(versions), _DELETE_OBJECTS_LIMIT):
                batch = versions[start : start + _DELETE_OBJECTS_LIMIT]
                response = client.delete_objects(
                    Bucket=bucket, Delete={"Objects": batch, "Quiet": True}
                )
                if response.get("Errors"):
                    raise StorageUnavailableError("S3 could not delete some of the user's files.")
                removed += len(batch)
    return removed


def user_ids_with_files(*, deadline: Deadline) -> set[uuid.UUID]:
    """Return the ids that have anything stored under `users/{id}/`, old versions included."""
    bucket = _bucket()
    client = get_s3_client()
    ids: set[uuid.UUID] = set()
    with _storage_call(deadline):
        paginator = client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=USER_FILES_PREFIX, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common.get("Prefix", "")[len(USER_FILES_PREFIX) :].rstrip("/")
                with suppress(ValueError):  # not a user's folder: none of the service's
                    ids.add(uuid.UUID(name))
    return ids


def _current_etag(client: S3Client, bucket: str, key: str) -> str | None:
    """Return the ETag of the current version of `key`, or None when there is none.

    A listing of exactly this key rather than HeadObject: S3 answers HeadObject on a
    missing key with 403 unless the caller may list the bucket, and the function may
    list only with an `s3:prefix` under users/, which a listing carries and HeadObject
    does not. The key sorts first among the keys it prefixes, so one result decides.
    """
    response = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    for item in response.get("Contents", []):
        if item["Key"] == key:
            return item["ETag"]
    return None


def _delete_if_unchanged(
    client: S3Client, bucket: str, key: str, etag: str, *, last_attempt: bool
) -> bool:
    """Delete `key` if its ETag is still `etag`; False when it changed or went away meanwhile."""
    from botocore.exceptions import ClientError

    try:
        client.delete_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as error:
        if last_attempt or _error_code(error) not in _OBJECT_CHANGED_CODES:
            raise
        return False
    return True


def _error_code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _storage_call(deadline: Deadline | None) -> Iterator[None]:
    """Bound the S3 attempts inside by `deadline`; turn their failures into
    `StorageUnavailableError`, and let domain errors through."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        with _attempts.applied(deadline):
            yield
    except DeadlineReachedError as error:
        raise StorageUnavailableError(
            "S3 did not answer in the time this request had; try again."
        ) from error
    except (ClientError, BotoCoreError) as error:
        raise StorageUnavailableError("S3 did not complete the request; try again.") from error

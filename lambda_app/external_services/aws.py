"""S3: presigned avatar uploads and downloads, and removal of a user's files."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lambda_app.config import Settings, get_settings
from lambda_app.exceptions import (
    AvatarNotFoundError,
    StorageNotConfiguredError,
    StorageUnavailableError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

_client: S3Client | None = None
_client_lock = threading.Lock()


@dataclass(frozen=True)
class PresignedPost:
    """An S3 form upload: POST `fields` plus the file to `url`."""

    url: str
    fields: dict[str, str]
    key: str
    expires_in: int


@dataclass(frozen=True)
class PresignedGet:
    """A time-limited download link."""

    url: str
    expires_in: int


def user_prefix(user_id: uuid.UUID) -> str:
    """Return the key prefix under which every file of a user lives."""
    return f"users/{user_id}/"


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
    return boto3.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


def _bucket() -> str:
    bucket = get_settings().s3_bucket
    if not bucket:
        raise StorageNotConfiguredError("No S3 bucket is configured: set S3_BUCKET.")
    return bucket


def presign_avatar_upload(user_id: uuid.UUID, *, content_type: str) -> PresignedPost:
    """Return a presigned POST that accepts one avatar of `content_type` up to the size cap."""
    settings = get_settings()
    key = avatar_key(user_id)
    with _storage_errors():
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


def presign_avatar_download(user_id: uuid.UUID) -> PresignedGet:
    """Return a presigned GET of the user's avatar; raise when none was uploaded."""
    settings = get_settings()
    bucket, key = _bucket(), avatar_key(user_id)
    client = get_s3_client()
    with _storage_errors():
        if not _object_exists(client, bucket, key):
            raise AvatarNotFoundError(f"User {user_id} has no avatar.")
        url = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key},
            ExpiresIn=settings.presign_expires_seconds,
        )
    return PresignedGet(url=url, expires_in=settings.presign_expires_seconds)


def delete_avatar(user_id: uuid.UUID) -> None:
    """Delete the user's avatar; raise when none was uploaded."""
    bucket, key = _bucket(), avatar_key(user_id)
    client = get_s3_client()
    with _storage_errors():
        if not _object_exists(client, bucket, key):
            raise AvatarNotFoundError(f"User {user_id} has no avatar.")
        client.delete_object(Bucket=bucket, Key=key)


def delete_user_files(user_id: uuid.UUID) -> int:
    """Delete every object under the user's prefix; return how many were removed."""
    bucket = get_settings().s3_bucket
    if not bucket:
        return 0  # nothing can have been stored without a bucket
    client = get_s3_client()
    removed = 0
    with _storage_errors():
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=user_prefix(user_id)):
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": item["Key"]} for item in page.get("Contents", [])
            ]
            if not keys:
                continue
            response = client.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            if response.get("Errors"):
                raise StorageUnavailableError("S3 could not delete some of the user's files.")
            removed += len(keys)
    return removed


def _object_exists(client: S3Client, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _error_code(error) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def _error_code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _storage_errors() -> Iterator[None]:
    """Turn botocore failures into `StorageUnavailableError`; let domain errors through."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise StorageUnavailableError("S3 did not complete the request; try again.") from error

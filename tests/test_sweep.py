"""The file sweep: files a late presigned upload left for a deleted user are removed."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from lambda_app.sweep import handler as sweep
from tests.conftest import TEST_BUCKET


def versions_under(s3: Any, prefix: str) -> int:
    listing = s3.list_object_versions(Bucket=TEST_BUCKET, Prefix=prefix)
    return len(listing.get("Versions", [])) + len(listing.get("DeleteMarkers", []))


def test_files_uploaded_after_their_user_was_deleted_are_swept(
    client: TestClient, make_user: Any, s3: Any
) -> None:
    s3.put_bucket_versioning(Bucket=TEST_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    kept, gone = make_user(), make_user()
    for user in (kept, gone):
        form = client.post(f"/users/{user['id']}/avatar", json={"content_type": "image/png"})
        assert form.status_code == 201
        s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{user['id']}/avatar", Body=b"v1")
    assert client.delete(f"/users/{gone['id']}").status_code == 204
    # The form issued before the delete is still valid: the upload lands afterwards, twice.
    for body in (b"late-1", b"late-2"):
        s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{gone['id']}/avatar", Body=body)
    s3.put_object(Bucket=TEST_BUCKET, Key="users/not-a-user-id/file", Body=b"x")

    result = sweep()

    assert result == {"orphaned_users": 1, "deleted_versions": 2}
    assert versions_under(s3, f"users/{gone['id']}/") == 0
    assert versions_under(s3, f"users/{kept['id']}/") == 1
    assert versions_under(s3, "users/not-a-user-id/") == 1  # not the service's to judge


def test_a_sweep_with_nothing_stored_touches_no_database(app_env: dict[str, str], s3: Any) -> None:
    assert sweep() == {"orphaned_users": 0, "deleted_versions": 0}

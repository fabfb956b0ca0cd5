"""Avatar uploads and downloads through presigned S3 requests."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from lambda_app.config import FIVE_MIB
from local.embedded_s3 import EmbeddedS3
from tests.conftest import TEST_BUCKET, settings_env
from tests.routers.test_users import assert_problem

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def signed_policy(upload: dict[str, Any]) -> dict[str, Any]:
    """Decode the policy document S3 enforces on a presigned POST."""
    return dict(json.loads(base64.b64decode(upload["fields"]["policy"])))


# --- POST /users/{id}/avatar


def test_avatar_upload_is_201_with_a_presigned_post(client: TestClient, make_user: Any) -> None:
    user = make_user()

    response = client.post(f"/users/{user['id']}/avatar", json={"content_type": "image/webp"})

    assert response.status_code == 201
    upload = response.json()
    assert set(upload) == {"url", "fields", "key", "expires_in"}
    assert upload["key"] == f"users/{user['id']}/avatar"
    assert upload["fields"]["key"] == upload["key"]
    assert upload["fields"]["Content-Type"] == "image/webp"
    assert upload["expires_in"] == 900
    assert TEST_BUCKET in upload["url"]


def test_avatar_upload_policy_allows_only_that_key_type_and_size(
    client: TestClient, make_user: Any
) -> None:
    user = make_user()
    before = datetime.now(UTC)

    upload = client.post(f"/users/{user['id']}/avatar", json={"content_type": "image/png"}).json()

    policy = signed_policy(upload)
    conditions = policy["conditions"]
    assert {"bucket": TEST_BUCKET} in conditions
    assert {"key": f"users/{user['id']}/avatar"} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, FIVE_MIB] in conditions
    assert not any(isinstance(c, list) and c[0] == "starts-with" for c in conditions)
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=890) <= expiration <= before + timedelta(seconds=910)
    assert upload["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


def test_avatar_size_cap_follows_the_setting(s3: Any, admin: dict[str, Any]) -> None:
    with settings_env(AVATAR_MAX_BYTES="1024", PRESIGN_EXPIRES_SECONDS="60"):
        from lambda_app.main import create_app

        client = TestClient(create_app(), headers=admin["headers"])
        user = client.post("/users", json={"email": "cap@example.com"}).json()
        upload = client.post(f"/users/{user['id']}/avatar", json={"content_type": "image/png"})

    assert ["content-length-range", 1, 1024] in signed_policy(upload.json())["conditions"]
    assert upload.json()["expires_in"] == 60


@pytest.mark.parametrize(
    "body",
    [
        {"content_type": "image/gif"},
        {"content_type": "text/html"},
        {},
        {"content_type": "image/png", "x": 1},
    ],
)
def test_avatar_upload_with_bad_content_type_is_422(
    client: TestClient, make_user: Any, body: dict[str, Any]
) -> None:
    user = make_user()

    assert_problem(client.post(f"/users/{user['id']}/avatar", json=body), 422)


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_avatar_routes_name_a_malformed_id_once(client: TestClient, method: str) -> None:
    response = client.request(
        method, "/users/not-a-uuid/avatar", json={"content_type": "image/png"}
    )

    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == ["path.user_id"]


def test_avatar_upload_for_unknown_user_is_404(client: TestClient) -> None:
    response = client.post(f"/users/{uuid.uuid4()}/avatar", json={"content_type": "image/png"})

    assert_problem(response, 404)


# --- GET and DELETE /users/{id}/avatar


def test_read_avatar_without_upload_is_404(client: TestClient, make_user: Any) -> None:
    user = make_user()

    body = assert_problem(client.get(f"/users/{user['id']}/avatar"), 404)

    assert body["title"] == "Avatar not found"


def test_read_avatar_of_unknown_user_is_404(client: TestClient) -> None:
    assert_problem(client.get(f"/users/{uuid.uuid4()}/avatar"), 404)


def test_read_avatar_returns_a_presigned_get(client: TestClient, make_user: Any, s3: Any) -> None:
    user = make_user()
    s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{user['id']}/avatar", Body=PNG)

    response = client.get(f"/users/{user['id']}/avatar")

    assert response.status_code == 200
    download = response.json()
    assert set(download) == {"url", "expires_in"}
    assert f"users/{user['id']}/avatar" in download["url"]
    assert "X-Amz-Signature=" in download["url"]


def test_delete_avatar_is_204_and_removes_the_object(
    client: TestClient, make_user: Any, s3: Any
) -> None:
    user = make_user()
    s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{user['id']}/avatar", Body=PNG)

    assert client.delete(f"/users/{user['id']}/avatar").status_code == 204

    assert s3.list_objects_v2(Bucket=TEST_BUCKET).get("KeyCount") == 0
    assert_problem(client.get(f"/users/{user['id']}/avatar"), 404)


def test_delete_missing_avatar_is_404(client: TestClient, make_user: Any) -> None:
    user = make_user()

    assert_problem(client.delete(f"/users/{user['id']}/avatar"), 404)


def test_delete_avatar_of_unknown_user_is_404(client: TestClient) -> None:
    assert_problem(client.delete(f"/users/{uuid.uuid4()}/avatar"), 404)


def test_read_avatar_ignores_other_keys_with_the_same_prefix(
    client: TestClient, make_user: Any, s3: Any
) -> None:
    user = make_user()
    s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{user['id']}/avatar-old", Body=PNG)

    assert_problem(client.get(f"/users/{user['id']}/avatar"), 404)
    assert_problem(client.delete(f"/users/{user['id']}/avatar"), 404)


def test_delete_avatar_in_a_versioned_bucket_leaves_no_current_avatar(
    client: TestClient, make_user: Any, s3: Any
) -> None:
    s3.put_bucket_versioning(Bucket=TEST_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    user = make_user()
    s3.put_object(Bucket=TEST_BUCKET, Key=f"users/{user['id']}/avatar", Body=PNG)

    assert client.delete(f"/users/{user['id']}/avatar").status_code == 204

    assert_problem(client.get(f"/users/{user['id']}/avatar"), 404)
    assert_problem(client.delete(f"/users/{user['id']}/avatar"), 404)


@pytest.fixture
def before_avatar_delete(client: TestClient) -> Iterator[list[Callable[[], None]]]:
    """Run the queued actions, one per call, just before the app's S3 DeleteObject goes out."""
    from lambda_app.external_services import aws

    queued: list[Callable[[], None]] = []

    def run_next(**_: Any) -> None:
        if queued:
            queued.pop(0)()

    events = aws.get_s3_client().meta.events
    events.register("before-call.s3.DeleteObject", run_next)
    yield queued
    events.unregister("before-call.s3.DeleteObject", run_next)


def test_delete_avatar_replaced_meanwhile_deletes_the_new_one(
    client: TestClient, make_user: Any, s3: Any, before_avatar_delete: list[Callable[[], None]]
) -> None:
    user = make_user()
    key = f"users/{user['id']}/avatar"
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=PNG)
    before_avatar_delete.append(lambda: s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=b"new"))

    assert client.delete(f"/users/{user['id']}/avatar").status_code == 204

    assert not before_avatar_delete  # the replacement did happen between listing and delete
    assert s3.list_objects_v2(Bucket=TEST_BUCKET).get("KeyCount") == 0


def test_delete_avatar_deleted_meanwhile_is_404(
    client: TestClient, make_user: Any, s3: Any, before_avatar_delete: list[Callable[[], None]]
) -> None:
    user = make_user()
    key = f"users/{user['id']}/avatar"
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=PNG)
    before_avatar_delete.append(lambda: s3.delete_object(Bucket=TEST_BUCKET, Key=key))

    assert_problem(client.delete(f"/users/{user['id']}/avatar"), 404)

    assert not before_avatar_delete


def test_delete_avatar_that_keeps_changing_is_502_not_a_loop(
    client: TestClient, make_user: Any, s3: Any, before_avatar_delete: list[Callable[[], None]]
) -> None:
    user = make_user()
    key = f"users/{user['id']}/avatar"
    s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=PNG)
    for attempt in range(10):
        before_avatar_delete.append(
            lambda n=attempt: s3.put_object(Bucket=TEST_BUCKET, Key=key, Body=b"v%d" % n)
        )

    assert_problem(client.delete(f"/users/{user['id']}/avatar"), 502)

    assert len(before_avatar_delete) == 7  # three conditional deletes, then it gave up


# --- end to end against a moto server


@pytest.fixture
def s3_server(app_env: Any) -> Iterator[EmbeddedS3]:
    server = EmbeddedS3(bucket=TEST_BUCKET).start()
    try:
        with settings_env(S3_ENDPOINT_URL=server.endpoint_url):
            yield server
    finally:
        server.stop()


def test_presigned_post_uploads_and_presigned_get_returns_the_bytes(
    s3_server: EmbeddedS3, admin: dict[str, Any]
) -> None:
    from lambda_app.main import create_app

    client = TestClient(create_app(), headers=admin["headers"])
    user = client.post("/users", json={"email": "e2e@example.com"}).json()
    upload = client.post(f"/users/{user['id']}/avatar", json={"content_type": "image/png"}).json()

    posted = httpx.post(
        upload["url"], data=upload["fields"], files={"file": ("me.png", PNG, "image/png")}
    )
    download = client.get(f"/users/{user['id']}/avatar").json()
    fetched = httpx.get(download["url"])

    assert posted.status_code in {200, 201, 204}, posted.text
    assert upload["url"].startswith(s3_server.endpoint_url)
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"

"""The steps of `make smoke`: each checks one thing on the deployed API and says what it saw."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

# The statuses S3 may answer a successful form POST (its success_action_status values):
# https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html
S3_POST_OK = {200, 201, 204}


class StepFailedError(Exception):
    """The deployment answered something a healthy one would not."""


@dataclass
class SmokeRun:
    """What the steps of one run share: the clients, the test data and what was created."""

    api: httpx.Client
    storage: httpx.Client  # presigned S3 URLs: no bearer token may go there
    run_id: str
    email: str
    png: bytes
    user: dict[str, Any] | None = None
    create_unanswered: bool = False  # sent, no answer: the user may exist all the same
    deleted: bool = False
    self_registered_id: str | None = None
    download_url: str | None = None


def tiny_png(seed: bytes) -> bytes:
    """A valid 1x1 PNG whose pixel colour comes from `seed`, so each run uploads its own bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00" + seed[:3].ljust(3, b"\x00"))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def describe(response: httpx.Response) -> str:
    """`METHOD /path answered STATUS: detail`, without the query string or any body secrets."""
    request = response.request
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            # problem+json from the app; {"message": ...} from API Gateway's authorizer
            detail = str(body.get("detail") or body.get("title") or body.get("message") or "")
    except ValueError:
        code = re.search(r"<Code>([^<]{1,100})</Code>", response.text)  # S3's XML errors
        detail = code.group(1) if code else ""
    shown = f"{request.method} {request.url.path} answered {response.status_code}"
    return f"{shown}: {detail[:200]}" if detail else shown


def expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """Fail the step unless the status is one of `statuses`; return the JSON body, if any."""
    if response.status_code not in statuses:
        raise StepFailedError(describe(response))
    if not response.content:
        return {}
    body = response.json()
    if not isinstance(body, dict):
        raise StepFailedError(f"{describe(response)} with a body that is not an object")
    return body


def host(url: str) -> str:
    """Only the host of a URL: presigned URLs carry credentials in the query."""
    return urlsplit(url).hostname or "?"


def check_health(run: SmokeRun) -> str:
    """GET /health answers 200 ok after a real database round trip."""
    body = expect(run.api.get("/health"), 200)
    if body != {"status": "ok"}:
        raise StepFailedError(f"GET /health answered 200 with {body}")
    return 'GET /health 200 {"status": "ok"}'


def register_or_read_me(run: SmokeRun) -> str:
    """POST /users/me registers the caller or finds them registered; GET /users/me reads them."""
    posted = run.api.post("/users/me")
    if posted.status_code == 201:
        run.self_registered_id = str(posted.json()["id"])
        how = "POST 201 (registered now; removed at cleanup)"
    elif posted.status_code == 409:
        how = "POST 409 (already registered)"
    elif posted.status_code == 422:
        how = "POST 422 (the token has no email claim)"
    else:
        raise StepFailedError(describe(posted))
    me = expect(run.api.get("/users/me"), 200)
    if me.get("user_type") != "admin":
        raise StepFailedError(
            f"{how}, GET 200: {me.get('email')} has user_type {me.get('user_type')}; "
            "the smoke test needs an admin's token"
        )
    return f"{how}, GET 200: {me['email']} is an admin"


def create_user(run: SmokeRun) -> str:
    """POST /users creates the run's user with a Location header."""
    run.create_unanswered = True
    # No invitation: Cognito would email a made-up address on every run (and its default
    # sender has a small daily quota).
    body = {"email": run.email, "full_name": f"Smoke test {run.run_id}", "invite": False}
    response = run.api.post("/users", json=body)
    run.create_unanswered = False
    user = expect(response, 201)
    # Where the person's sign-in identity stands: linked, pending, or unmanaged (no pool).
    identity = user.pop("identity", None)
    run.user = user
    if not response.headers.get("location", "").endswith(f"/users/{user['id']}"):
        raise StepFailedError(f"201 without Location: /users/{user['id']}")
    if user["email"] != run.email:
        raise StepFailedError(f"201 but the email is {user['email']!r}")
    return f"POST /users 201: {run.email}, id {user['id']}, identity {identity}"


def read_user(run: SmokeRun) -> str:
    """GET /users/{id} answers what the create answered."""
    user = _created(run)
    read = expect(run.api.get(f"/users/{user['id']}"), 200)
    if read != user:
        raise StepFailedError(f"GET /users/{user['id']} 200 but it differs from the created user")
    return "GET /users/{id} 200, the same user"


def list_users(run: SmokeRun) -> str:
    """GET /users?email= finds exactly the run's user."""
    user = _created(run)
    page = expect(run.api.get("/users", params={"email": run.email}), 200)
    ids = [item["id"] for item in page["items"]]
    if ids != [user["id"]] or page["total"] != 1:
        raise StepFailedError(f"GET /users?email= 200 with ids {ids} and total {page['total']}")
    return "GET /users?email=... 200, total 1, the created user"


def patch_user(run: SmokeRun) -> str:
    """PATCH /users/{id} changes the full name and advances updated_at."""
    user = _created(run)
    name = f"Smoke test {run.run_id}, patched"
    patched = expect(run.api.patch(f"/users/{user['id']}", json={"full_name": name}), 200)
    if patched["full_name"] != name:
        raise StepFailedError(f"PATCH 200 but full_name is {patched['full_name']!r}")
    before, after = (datetime.fromisoformat(u["updated_at"]) for u in (user, patched))
    if after <= before:
        raise StepFailedError(f"PATCH 200 but updated_at did not advance ({after} <= {before})")
    run.user = patched
    return "PATCH /users/{id} 200: full_name changed, updated_at advanced"


def upload_avatar(run: SmokeRun) -> str:
    """POST /users/{id}/avatar, then a real upload to the presigned POST it returned."""
    user = _created(run)
    upload = expect(
        run.api.post(f"/users/{user['id']}/avatar", json={"content_type": "image/png"}), 201
    )
    if upload["key"] != f"users/{user['id']}/avatar":
        raise StepFailedError(f"201 with key {upload['key']!r}")
    stored = run.storage.post(
        upload["url"], data=upload["fields"], files={"file": ("smoke.png", run.png, "image/png")}
    )
    if stored.status_code not in S3_POST_OK:
        raise StepFailedError(f"S3 refused the presigned POST: {describe(stored)}")
    return (
        f"POST avatar 201, presigned POST to {host(upload['url'])} "
        f"stored {len(run.png)} bytes ({stored.status_code})"
    )


def download_avatar(run: SmokeRun) -> str:
    """GET /users/{id}/avatar, then the presigned GET returns the uploaded bytes."""
    user = _created(run)
    download = expect(run.api.get(f"/users/{user['id']}/avatar"), 200)
    run.download_url = str(download["url"])
    fetched = run.storage.get(run.download_url)
    if fetched.status_code != 200:
        raise StepFailedError(f"the presigned GET failed: {describe(fetched)}")
    if fetched.content != run.png:
        raise StepFailedError(f"the presigned GET returned other bytes ({len(fetched.content)})")
    return (
        f"GET avatar 200, presigned GET from {host(run.download_url)} "
        f"returned the same {len(run.png)} bytes"
    )


def delete_avatar(run: SmokeRun) -> str:
    """DELETE /users/{id}/avatar (S3's conditional delete, IfMatch), then the avatar is 404."""
    user = _created(run)
    expect(run.api.delete(f"/users/{user['id']}/avatar"), 204)
    expect(run.api.get(f"/users/{user['id']}/avatar"), 404)
    gone = _link_gone(run, "DELETE avatar 204 but its presigned link still serves it")
    return f"DELETE avatar 204, then GET avatar 404{gone}"


def delete_user(run: SmokeRun) -> str:
    """DELETE /users/{id}: the user is 404 afterwards and their avatar is gone from S3."""
    user = _created(run)
    expect(run.api.delete(f"/users/{user['id']}"), 204)
    run.deleted = True
    expect(run.api.get(f"/users/{user['id']}"), 404)
    gone = _link_gone(run, "DELETE 204 but the avatar still downloads")
    return f"DELETE /users/{{id}} 204, then GET 404{gone}"


def _link_gone(run: SmokeRun, failure: str) -> str:
    """The avatar's presigned link no longer serves the file: what S3 answers instead."""
    if not run.download_url:
        return ""
    # Without s3:ListBucket, S3 answers a missing key with 403 instead of 404:
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Permissions)
    fetched = run.storage.get(run.download_url)
    if fetched.status_code == 200:
        raise StepFailedError(failure)
    return f"; the avatar's link answers {fetched.status_code}"


def clean_up(run: SmokeRun) -> str:
    """Delete whatever the run created and did not delete itself (their files go with them)."""
    leftovers: list[tuple[str, str]] = []
    if run.user is not None and not run.deleted:
        leftovers.append((str(run.user["id"]), run.email))
    elif run.user is None and run.create_unanswered:
        page = expect(run.api.get("/users", params={"email": run.email}), 200)
        leftovers += [(str(item["id"]), run.email) for item in page["items"]]
    if run.self_registered_id is not None:  # last: it ends the caller's registration
        leftovers.append((run.self_registered_id, "the registration of the me step"))
    if not leftovers:
        return "nothing left behind"
    problems = []
    for user_id, what in leftovers:
        response = run.api.delete(f"/users/{user_id}")
        if response.status_code not in (204, 404):
            problems.append(f"{what} ({user_id}) is left behind: {describe(response)}")
    if problems:
        raise StepFailedError("; ".join(problems) + "; delete it by hand")
    return "deleted " + ", ".join(f"{what} ({user_id})" for user_id, what in leftovers)


def _created(run: SmokeRun) -> dict[str, Any]:
    if run.user is None:
        raise StepFailedError("no user was created")
    return run.user


STEPS: tuple[tuple[str, Callable[[SmokeRun], str]], ...] = (
    ("health", check_health),
    ("me", register_or_read_me),
    ("create", create_user),
    ("read", read_user),
    ("list", list_users),
    ("patch", patch_user),
    ("upload", upload_avatar),
    ("download", download_avatar),
    ("rmavatar", delete_avatar),
    ("delete", delete_user),
)

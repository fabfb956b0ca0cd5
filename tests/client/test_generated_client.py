"""The generated Python client drives the whole contract: the OpenAPI is usable as served."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from users_service_client import AuthenticatedClient
from users_service_client.api.avatars import create_avatar_upload
from users_service_client.api.users import (
    create_user,
    delete_user,
    list_users,
    read_user,
    update_user,
)
from users_service_client.models import (
    AvatarUpload,
    AvatarUploadRequest,
    AvatarUploadRequestContentType,
    Problem,
    UserCreate,
    UserCreated,
    UserCreatedIdentity,
    UserPage,
    UserRead,
    UserUpdate,
)

from clients.openapi import served_openapi
from lambda_app.main import create_app
from tests.client.conftest import GENERATED_CLIENT

CLIENTS = GENERATED_CLIENT.parent


def api_client(token: str) -> AuthenticatedClient:
    """The generated client, talking to the app in process (no server, no network)."""
    transport = httpx.ASGITransport(app=create_app())
    return AuthenticatedClient(
        base_url="http://testserver", token=token, httpx_args={"transport": transport}
    )


async def contract(client: AuthenticatedClient) -> None:
    key = str(uuid.uuid4())
    new_user = UserCreate(email="client@example.com", full_name="Generated")

    created = await create_user.asyncio_detailed(client=client, body=new_user, idempotency_key=key)
    retried = await create_user.asyncio_detailed(client=client, body=new_user, idempotency_key=key)

    assert created.status_code == 201
    assert isinstance(created.parsed, UserCreated)
    assert created.parsed.identity is UserCreatedIdentity.UNMANAGED  # no user pool here
    user = created.parsed
    assert created.headers["Location"].endswith(f"/users/{user.id}")
    assert "Idempotent-Replayed" not in created.headers
    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.parsed == user
    etag = created.headers["ETag"]

    unchanged = await read_user.asyncio_detailed(user.id, client=client, if_none_match=etag)
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    renamed = await update_user.asyncio_detailed(
        user.id, client=client, body=UserUpdate(full_name="Renamed"), if_match=etag
    )
    assert renamed.status_code == 200
    assert isinstance(renamed.parsed, UserRead)
    assert renamed.parsed.full_name == "Renamed"
    stale = await update_user.asyncio_detailed(
        user.id, client=client, body=UserUpdate(full_name="Lost"), if_match=etag
    )
    assert stale.status_code == 412
    assert isinstance(stale.parsed, Problem)
    assert stale.parsed.status == 412

    seen: list[uuid.UUID] = []
    cursor: str | None = None
    while True:
        page = await list_users.asyncio(client=client, limit=1, cursor=cursor)
        assert isinstance(page, UserPage)
        seen.extend(item.id for item in page.items)
        if not isinstance(page.next_cursor, str):
            break
        cursor = page.next_cursor
    assert len(seen) == page.total == 2
    assert user.id in seen

    form_request = AvatarUploadRequest(content_type=AvatarUploadRequestContentType.IMAGEPNG)
    form = await create_avatar_upload.asyncio_detailed(
        user.id, client=client, body=form_request, idempotency_key=key + "-avatar"
    )
    same_form = await create_avatar_upload.asyncio_detailed(
        user.id, client=client, body=form_request, idempotency_key=key + "-avatar"
    )
    assert form.status_code == 201
    assert isinstance(form.parsed, AvatarUpload)
    assert form.parsed.fields.additional_properties["key"] == form.parsed.key
    assert same_form.parsed == form.parsed
    assert same_form.headers["Idempotent-Replayed"] == "true"

    current = renamed.headers["ETag"]
    deleted = await delete_user.asyncio_detailed(user.id, client=client, if_match=current)
    assert deleted.status_code == 204
    gone = await read_user.asyncio_detailed(user.id, client=client)
    assert gone.status_code == 404
    assert isinstance(gone.parsed, Problem)


def test_the_generated_client_drives_the_whole_contract(admin: dict[str, Any], s3: Any) -> None:
    token = admin["headers"]["Authorization"].removeprefix("Bearer ")

    async def run() -> None:
        async with api_client(token) as client:
            await contract(client)

    # Not asyncio.run: it unsets the thread's loop, which Mangum's handler (other tests) needs.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


def test_the_client_was_generated_from_the_served_openapi() -> None:
    stored = json.loads((CLIENTS / "openapi.json").read_text())

    assert stored == served_openapi(), "the OpenAPI changed: run `make client` and commit"


def test_the_generated_client_is_not_edited_by_hand(tmp_path: Path) -> None:
    """Generating again from clients/openapi.json gives the committed files, byte for byte."""
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert generator is not None, "pip install -r requirements-dev.txt"
    output = tmp_path / "python"
    bin_path = str(Path(sys.executable).parent)
    subprocess.run(
        [
            generator,
            "generate",
            "--path",
            str(CLIENTS / "openapi.json"),
            "--output-path",
            str(output),
            "--config",
            str(CLIENTS / "openapi-python-client.yaml"),
        ],
        check=True,
        capture_output=True,
        env={"PATH": bin_path, "HOME": str(tmp_path)},
    )

    def files(root: Path) -> dict[str, bytes]:
        return {
            str(path.relative_to(root)): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and not {"__pycache__", ".ruff_cache"} & set(path.parts)
        }

    assert files(output) == files(GENERATED_CLIENT)

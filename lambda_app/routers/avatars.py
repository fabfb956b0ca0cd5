"""HTTP routes for a user's avatar: presigned S3 uploads and downloads."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from lambda_app.crud import users as crud
from lambda_app.db import get_engine
from lambda_app.dependencies import (
    AuthenticatedRoute,
    UserId,
    caller_and_user,
    deadline_of,
    principal_of,
)
from lambda_app.external_services import aws
from lambda_app.idempotent_requests import (
    REPLAY_HEADERS,
    IdempotencyKeyDep,
    keyed_request,
    run_once,
)
from lambda_app.permissions import Action, authorize
from lambda_app.problems import problem_responses
from lambda_app.schemas.users import AvatarDownload, AvatarUpload, AvatarUploadRequest

router = APIRouter(
    prefix="/users/{user_id}/avatar", tags=["avatars"], route_class=AuthenticatedRoute
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AvatarUpload,
    summary="Start an avatar upload",
    responses={
        201: {"headers": REPLAY_HEADERS},
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 502, 503),
    },
)
async def create_avatar_upload(
    user_id: UserId,
    body: AvatarUploadRequest,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKeyDep,
) -> AvatarUpload | Response:
    """Return a presigned S3 POST for one image of the given type, up to the size cap."""
    found = caller_and_user(request, user_id)
    authorize(found.caller, Action.UPDATE, target_id=user_id)
    crud.user_or_raise(found.user, user_id)

    def presign() -> AvatarUpload:
        upload = aws.presign_avatar_upload(user_id, content_type=body.content_type)
        return AvatarUpload(
            url=upload.url, fields=upload.fields, key=upload.key, expires_in=upload.expires_in
        )

    keyed = keyed_request(
        idempotency_key, subject=principal_of(request).subject, request=request, body=body
    )
    if keyed is None:
        return presign()
    # A retry gets the same form, not a second one, while the key lives.
    with get_engine().connect() as connection:
        return run_once(
            connection,
            keyed,
            response=response,
            status_code=status.HTTP_201_CREATED,
            answer=presign,
        )


@router.get(
    "",
    response_model=AvatarDownload,
    summary="Get an avatar download link",
    responses=problem_responses(401, 403, 404, 422, 502, 503),
)
async def read_avatar(user_id: UserId, request: Request) -> AvatarDownload:
    """Return a presigned S3 GET of the uploaded avatar."""
    deadline = deadline_of(request)
    found = caller_and_user(request, user_id)
    authorize(found.caller, Action.READ, target_id=user_id)
    crud.user_or_raise(found.user, user_id)
    download = aws.presign_avatar_download(user_id, deadline=deadline)
    return AvatarDownload(url=download.url, expires_in=download.expires_in)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete the avatar",
    responses=problem_responses(401, 403, 404, 422, 502, 503),
)
async def delete_avatar(user_id: UserId, request: Request) -> None:
    """Delete the uploaded avatar."""
    deadline = deadline_of(request)
    found = caller_and_user(request, user_id)
    authorize(found.caller, Action.UPDATE, target_id=user_id)
    crud.user_or_raise(found.user, user_id)
    aws.delete_avatar(user_id, deadline=deadline)

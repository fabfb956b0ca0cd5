"""HTTP routes for a user's avatar: presigned S3 uploads and downloads."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from lambda_app.crud import users as crud
from lambda_app.dependencies import CallerAndUserDep, ConnectionDep, DeadlineDep, PrincipalDep
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

router = APIRouter(prefix="/users/{user_id}/avatar", tags=["avatars"])


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
    body: AvatarUploadRequest,
    found: CallerAndUserDep,
    principal: PrincipalDep,
    connection: ConnectionDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKeyDep,
) -> AvatarUpload | Response:
    """Return a presigned S3 POST for one image of the given type, up to the size cap."""
    user_id = found.user_id
    authorize(found.caller, Action.UPDATE, target_id=user_id)
    crud.user_or_raise(found.user, user_id)

    def presign() -> AvatarUpload:
        upload = aws.presign_avatar_upload(user_id, content_type=body.content_type)
        return AvatarUpload(
            url=upload.url, fields=upload.fields, key=upload.key, expires_in=upload.expires_in
        )

    keyed = keyed_request(idempotency_key, subject=principal.subject, request=request, body=body)
    if keyed is None:
        return presign()
    # A retry gets the same form, not a second one, while the key lives.
    return run_once(
        connection, keyed, response=response, status_code=status.HTTP_201_CREATED, answer=presign
    )


@router.get(
    "",
    response_model=AvatarDownload,
    summary="Get an avatar download link",
    responses=problem_responses(401, 403, 404, 422, 502, 503),
)
async def read_avatar(found: CallerAndUserDep, deadline: DeadlineDep) -> AvatarDownload:
    """Return a presigned S3 GET of the uploaded avatar."""
    user_id = found.user_id
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
async def delete_avatar(found: CallerAndUserDep, deadline: DeadlineDep) -> None:
    """Delete the uploaded avatar."""
    user_id = found.user_id
    authorize(found.caller, Action.UPDATE, target_id=user_id)
    crud.user_or_raise(found.user, user_id)
    aws.delete_avatar(user_id, deadline=deadline)

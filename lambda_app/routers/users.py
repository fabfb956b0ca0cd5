"""HTTP routes for users and their avatars."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from lambda_app.crud import users as crud
from lambda_app.dependencies import SessionDep, UserId
from lambda_app.external_services import aws
from lambda_app.models.user import User
from lambda_app.problems import problem_responses
from lambda_app.schemas.users import (
    AvatarDownload,
    AvatarUpload,
    AvatarUploadRequest,
    UserCreate,
    UserPage,
    UserRead,
    UserUpdate,
)
from lambda_app.utils.user_type_enum import UserType

router = APIRouter(prefix="/users", tags=["users"])

MAX_OFFSET = 2**31 - 1


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserRead,
    summary="Create a user",
    responses=problem_responses(409, 422, 503),
)
def create_user(
    body: UserCreate, session: SessionDep, request: Request, response: Response
) -> User:
    """Create a user; the email must not be registered yet, in any letter case."""
    user = crud.create_user(
        session, email=body.email, full_name=body.full_name, user_type=body.user_type
    )
    response.headers["Location"] = f"{request.scope.get('root_path', '')}/users/{user.id}"
    return user


@router.get(
    "",
    response_model=UserPage,
    summary="List users",
    responses=problem_responses(422, 503),
)
def list_users(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Users to skip.")] = 0,
    user_type: Annotated[UserType | None, Query(description="Only users of this type.")] = None,
    email: Annotated[str | None, Query(max_length=320, description="Exact email.")] = None,
) -> UserPage:
    """List users ordered by creation time, then id, with the total matching the filters."""
    wanted_email = email.strip().lower() if email is not None else None
    users, total = crud.list_users(
        session, limit=limit, offset=offset, user_type=user_type, email=wanted_email
    )
    items = [UserRead.model_validate(user) for user in users]
    return UserPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{user_id}",
    response_model=UserRead,
    summary="Read a user",
    responses=problem_responses(404, 422, 503),
)
def read_user(user_id: UserId, session: SessionDep) -> User:
    """Return one user."""
    return crud.get_user(session, user_id=user_id)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    summary="Update a user",
    responses=problem_responses(404, 409, 422, 503),
)
def update_user(user_id: UserId, body: UserUpdate, session: SessionDep) -> User:
    """Change any of email, full name and user type; `updated_at` advances."""
    return crud.update_user(session, user_id=user_id, changes=body.changes())


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a user and their files",
    responses=problem_responses(404, 422, 502, 503),
)
def delete_user(user_id: UserId, session: SessionDep) -> None:
    """Delete the user and every file stored for them; if S3 fails, nothing is deleted."""
    user = crud.lock_user(session, user_id=user_id)
    crud.delete_user(session, user=user)
    aws.delete_user_files(user_id)
    session.commit()


@router.post(
    "/{user_id}/avatar",
    status_code=status.HTTP_201_CREATED,
    response_model=AvatarUpload,
    summary="Start an avatar upload",
    responses=problem_responses(404, 422, 502, 503),
)
def create_avatar_upload(
    user_id: UserId, body: AvatarUploadRequest, session: SessionDep
) -> AvatarUpload:
    """Return a presigned S3 POST for one image of the given type, up to the size cap."""
    crud.get_user(session, user_id=user_id)
    upload = aws.presign_avatar_upload(user_id, content_type=body.content_type)
    return AvatarUpload(
        url=upload.url, fields=upload.fields, key=upload.key, expires_in=upload.expires_in
    )


@router.get(
    "/{user_id}/avatar",
    response_model=AvatarDownload,
    summary="Get an avatar download link",
    responses=problem_responses(404, 422, 502, 503),
)
def read_avatar(user_id: UserId, session: SessionDep) -> AvatarDownload:
    """Return a presigned S3 GET of the uploaded avatar."""
    crud.get_user(session, user_id=user_id)
    download = aws.presign_avatar_download(user_id)
    return AvatarDownload(url=download.url, expires_in=download.expires_in)


@router.delete(
    "/{user_id}/avatar",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete the avatar",
    responses=problem_responses(404, 422, 502, 503),
)
def delete_avatar(user_id: UserId, session: SessionDep) -> None:
    """Delete the uploaded avatar."""
    crud.get_user(session, user_id=user_id)
    aws.delete_avatar(user_id)

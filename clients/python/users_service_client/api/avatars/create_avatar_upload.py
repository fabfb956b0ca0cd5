from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.avatar_upload import AvatarUpload
from ...models.avatar_upload_request import AvatarUploadRequest
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: UUID,
    *,
    body: AvatarUploadRequest,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/users/{user_id}/avatar".format(
            user_id=quote(str(user_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> AvatarUpload | Problem | None:
    if response.status_code == 201:
        response_201 = AvatarUpload.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 502:
        response_502 = Problem.from_dict(response.json())

        return response_502

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AvatarUpload | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    body: AvatarUploadRequest,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[AvatarUpload | Problem]:
    """Start an avatar upload

     Return a presigned S3 POST for one image of the given type, up to the size cap.

    Args:
        user_id (UUID): The user's id
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.
        body (AvatarUploadRequest): Body of `POST /users/{id}/avatar`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AvatarUpload | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    body: AvatarUploadRequest,
    idempotency_key: None | str | Unset = UNSET,
) -> AvatarUpload | Problem | None:
    """Start an avatar upload

     Return a presigned S3 POST for one image of the given type, up to the size cap.

    Args:
        user_id (UUID): The user's id
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.
        body (AvatarUploadRequest): Body of `POST /users/{id}/avatar`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AvatarUpload | Problem
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    body: AvatarUploadRequest,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[AvatarUpload | Problem]:
    """Start an avatar upload

     Return a presigned S3 POST for one image of the given type, up to the size cap.

    Args:
        user_id (UUID): The user's id
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.
        body (AvatarUploadRequest): Body of `POST /users/{id}/avatar`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AvatarUpload | Problem]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    body: AvatarUploadRequest,
    idempotency_key: None | str | Unset = UNSET,
) -> AvatarUpload | Problem | None:
    """Start an avatar upload

     Return a presigned S3 POST for one image of the given type, up to the size cap.

    Args:
        user_id (UUID): The user's id
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.
        body (AvatarUploadRequest): Body of `POST /users/{id}/avatar`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AvatarUpload | Problem
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed

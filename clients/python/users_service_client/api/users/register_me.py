from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.user_read import UserRead
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/users/me",
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | UserRead | None:
    if response.status_code == 200:
        response_200 = UserRead.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = UserRead.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | UserRead]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[Problem | UserRead]:
    """Register myself

     Register with the token's verified email; 200 when it takes over an admin-made account.

    Where the service provisions identities, the token's identity must still be in the pool:
    a token outlives the deletion of its identity by up to an hour, and must not bring a
    deleted user back as a customer.

    Args:
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserRead]
    """

    kwargs = _get_kwargs(
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    idempotency_key: None | str | Unset = UNSET,
) -> Problem | UserRead | None:
    """Register myself

     Register with the token's verified email; 200 when it takes over an admin-made account.

    Where the service provisions identities, the token's identity must still be in the pool:
    a token outlives the deletion of its identity by up to an hour, and must not bring a
    deleted user back as a customer.

    Args:
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserRead
    """

    return sync_detailed(
        client=client,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[Problem | UserRead]:
    """Register myself

     Register with the token's verified email; 200 when it takes over an admin-made account.

    Where the service provisions identities, the token's identity must still be in the pool:
    a token outlives the deletion of its identity by up to an hour, and must not bring a
    deleted user back as a customer.

    Args:
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserRead]
    """

    kwargs = _get_kwargs(
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    idempotency_key: None | str | Unset = UNSET,
) -> Problem | UserRead | None:
    """Register myself

     Register with the token's verified email; 200 when it takes over an admin-made account.

    Where the service provisions identities, the token's identity must still be in the pool:
    a token outlives the deletion of its identity by up to an hour, and must not bring a
    deleted user back as a customer.

    Args:
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserRead
    """

    return (
        await asyncio_detailed(
            client=client,
            idempotency_key=idempotency_key,
        )
    ).parsed

from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.user_create import UserCreate
from ...models.user_created import UserCreated
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: UserCreate,
    idempotency_key: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/users",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | UserCreated | None:
    if response.status_code == 201:
        response_201 = UserCreated.from_dict(response.json())

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

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | UserCreated]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: UserCreate,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[Problem | UserCreated]:
    """Create a user

     Create a user (admins only), and their sign-in identity where the service provisions them.

    The email must not be registered yet, in any letter case. The user and the task that
    provisions their identity are one write; the identity is created after the commit, with
    no connection held (409 when the email's identity is another user's, and then nothing is
    kept), or by retries when Cognito does not answer in time (`identity: pending`).

    Args:
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.
        body (UserCreate): Body of `POST /users`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserCreated]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: UserCreate,
    idempotency_key: None | str | Unset = UNSET,
) -> Problem | UserCreated | None:
    """Create a user

     Create a user (admins only), and their sign-in identity where the service provisions them.

    The email must not be registered yet, in any letter case. The user and the task that
    provisions their identity are one write; the identity is created after the commit, with
    no connection held (409 when the email's identity is another user's, and then nothing is
    kept), or by retries when Cognito does not answer in time (`identity: pending`).

    Args:
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.
        body (UserCreate): Body of `POST /users`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserCreated
    """

    return sync_detailed(
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: UserCreate,
    idempotency_key: None | str | Unset = UNSET,
) -> Response[Problem | UserCreated]:
    """Create a user

     Create a user (admins only), and their sign-in identity where the service provisions them.

    The email must not be registered yet, in any letter case. The user and the task that
    provisions their identity are one write; the identity is created after the commit, with
    no connection held (409 when the email's identity is another user's, and then nothing is
    kept), or by retries when Cognito does not answer in time (`identity: pending`).

    Args:
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.
        body (UserCreate): Body of `POST /users`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserCreated]
    """

    kwargs = _get_kwargs(
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: UserCreate,
    idempotency_key: None | str | Unset = UNSET,
) -> Problem | UserCreated | None:
    """Create a user

     Create a user (admins only), and their sign-in identity where the service provisions them.

    The email must not be registered yet, in any letter case. The user and the task that
    provisions their identity are one write; the identity is created after the commit, with
    no connection held (409 when the email's identity is another user's, and then nothing is
    kept), or by retries when Cognito does not answer in time (`identity: pending`).

    Args:
        idempotency_key (None | str | Unset): A unique value per operation (a UUID, say), at most
            255 printable characters: a retry with the same key and body gets the first answer again,
            marked `Idempotent-Replayed: true`, for 24 hours. 409 while the first is in progress, 422
            for another body.
        body (UserCreate): Body of `POST /users`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserCreated
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed

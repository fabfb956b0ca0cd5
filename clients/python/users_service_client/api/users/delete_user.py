from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.user_deletion_pending import UserDeletionPending
from ...types import UNSET, Response, Unset


def _get_kwargs(
    user_id: UUID,
    *,
    if_match: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/users/{user_id}".format(
            user_id=quote(str(user_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | UserDeletionPending | None:
    if response.status_code == 202:
        response_202 = UserDeletionPending.from_dict(response.json())

        return response_202

    if response.status_code == 204:
        response_204 = cast(Any, None)
        return response_204

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

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

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
) -> Response[Any | Problem | UserDeletionPending]:
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
    if_match: None | str | Unset = UNSET,
) -> Response[Any | Problem | UserDeletionPending]:
    """Delete a user, their files and their identity

     Delete the user; 204 once their files and identity are gone too, 202 while retried.

    Args:
        user_id (UUID): The user's id
        if_match (None | str | Unset): Change only if the user is still at this ETag (from a read
            or a write); 412 when it is not. `*` matches any version.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | UserDeletionPending]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        if_match=if_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    if_match: None | str | Unset = UNSET,
) -> Any | Problem | UserDeletionPending | None:
    """Delete a user, their files and their identity

     Delete the user; 204 once their files and identity are gone too, 202 while retried.

    Args:
        user_id (UUID): The user's id
        if_match (None | str | Unset): Change only if the user is still at this ETag (from a read
            or a write); 412 when it is not. `*` matches any version.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | UserDeletionPending
    """

    return sync_detailed(
        user_id=user_id,
        client=client,
        if_match=if_match,
    ).parsed


async def asyncio_detailed(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    if_match: None | str | Unset = UNSET,
) -> Response[Any | Problem | UserDeletionPending]:
    """Delete a user, their files and their identity

     Delete the user; 204 once their files and identity are gone too, 202 while retried.

    Args:
        user_id (UUID): The user's id
        if_match (None | str | Unset): Change only if the user is still at this ETag (from a read
            or a write); 412 when it is not. `*` matches any version.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | UserDeletionPending]
    """

    kwargs = _get_kwargs(
        user_id=user_id,
        if_match=if_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    user_id: UUID,
    *,
    client: AuthenticatedClient,
    if_match: None | str | Unset = UNSET,
) -> Any | Problem | UserDeletionPending | None:
    """Delete a user, their files and their identity

     Delete the user; 204 once their files and identity are gone too, 202 while retried.

    Args:
        user_id (UUID): The user's id
        if_match (None | str | Unset): Change only if the user is still at this ETag (from a read
            or a write); 412 when it is not. `*` matches any version.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | UserDeletionPending
    """

    return (
        await asyncio_detailed(
            user_id=user_id,
            client=client,
            if_match=if_match,
        )
    ).parsed

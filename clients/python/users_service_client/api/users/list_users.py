from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.user_page import UserPage
from ...models.user_type import UserType
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
    offset: int | Unset = 0,
    user_type: None | Unset | UserType = UNSET,
    email: None | str | Unset = UNSET,
    read_after: None | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(read_after, Unset):
        headers["Read-After"] = read_after

    params: dict[str, Any] = {}

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params["offset"] = offset

    json_user_type: None | str | Unset
    if isinstance(user_type, Unset):
        json_user_type = UNSET
    elif isinstance(user_type, UserType):
        json_user_type = user_type.value
    else:
        json_user_type = user_type
    params["user_type"] = json_user_type

    json_email: None | str | Unset
    if isinstance(email, Unset):
        json_email = UNSET
    else:
        json_email = email
    params["email"] = json_email

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/users",
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | UserPage | None:
    if response.status_code == 200:
        response_200 = UserPage.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Problem | UserPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
    offset: int | Unset = 0,
    user_type: None | Unset | UserType = UNSET,
    email: None | str | Unset = UNSET,
    read_after: None | str | Unset = UNSET,
) -> Response[Problem | UserPage]:
    """List users

     List users ordered by creation time, then id, with the total matching the filters.

    Args:
        limit (int | Unset): Page size. Default: 20.
        cursor (None | str | Unset): `next_cursor` of the previous page.
        offset (int | Unset): Users to skip, at most 10000; then use `cursor`. Default: 0.
        user_type (None | Unset | UserType): Only users of this type.
        email (None | str | Unset): Exact email, in any letter case.
        read_after (None | str | Unset): The ETag of your latest create or update: the page may
            then come from a read replica, and still shows that write and every one before it. Without
            it, the writer answers.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserPage]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        offset=offset,
        user_type=user_type,
        email=email,
        read_after=read_after,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
    offset: int | Unset = 0,
    user_type: None | Unset | UserType = UNSET,
    email: None | str | Unset = UNSET,
    read_after: None | str | Unset = UNSET,
) -> Problem | UserPage | None:
    """List users

     List users ordered by creation time, then id, with the total matching the filters.

    Args:
        limit (int | Unset): Page size. Default: 20.
        cursor (None | str | Unset): `next_cursor` of the previous page.
        offset (int | Unset): Users to skip, at most 10000; then use `cursor`. Default: 0.
        user_type (None | Unset | UserType): Only users of this type.
        email (None | str | Unset): Exact email, in any letter case.
        read_after (None | str | Unset): The ETag of your latest create or update: the page may
            then come from a read replica, and still shows that write and every one before it. Without
            it, the writer answers.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserPage
    """

    return sync_detailed(
        client=client,
        limit=limit,
        cursor=cursor,
        offset=offset,
        user_type=user_type,
        email=email,
        read_after=read_after,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
    offset: int | Unset = 0,
    user_type: None | Unset | UserType = UNSET,
    email: None | str | Unset = UNSET,
    read_after: None | str | Unset = UNSET,
) -> Response[Problem | UserPage]:
    """List users

     List users ordered by creation time, then id, with the total matching the filters.

    Args:
        limit (int | Unset): Page size. Default: 20.
        cursor (None | str | Unset): `next_cursor` of the previous page.
        offset (int | Unset): Users to skip, at most 10000; then use `cursor`. Default: 0.
        user_type (None | Unset | UserType): Only users of this type.
        email (None | str | Unset): Exact email, in any letter case.
        read_after (None | str | Unset): The ETag of your latest create or update: the page may
            then come from a read replica, and still shows that write and every one before it. Without
            it, the writer answers.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UserPage]
    """

    kwargs = _get_kwargs(
        limit=limit,
        cursor=cursor,
        offset=offset,
        user_type=user_type,
        email=email,
        read_after=read_after,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: None | str | Unset = UNSET,
    offset: int | Unset = 0,
    user_type: None | Unset | UserType = UNSET,
    email: None | str | Unset = UNSET,
    read_after: None | str | Unset = UNSET,
) -> Problem | UserPage | None:
    """List users

     List users ordered by creation time, then id, with the total matching the filters.

    Args:
        limit (int | Unset): Page size. Default: 20.
        cursor (None | str | Unset): `next_cursor` of the previous page.
        offset (int | Unset): Users to skip, at most 10000; then use `cursor`. Default: 0.
        user_type (None | Unset | UserType): Only users of this type.
        email (None | str | Unset): Exact email, in any letter case.
        read_after (None | str | Unset): The ETag of your latest create or update: the page may
            then come from a read replica, and still shows that write and every one before it. Without
            it, the writer answers.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UserPage
    """

    return (
        await asyncio_detailed(
            client=client,
            limit=limit,
            cursor=cursor,
            offset=offset,
            user_type=user_type,
            email=email,
            read_after=read_after,
        )
    ).parsed

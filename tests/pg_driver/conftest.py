"""Raw driver connections on the test database, directly or through a resetting relay."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from pg8000.exceptions import InterfaceError
from sqlalchemy.engine import make_url

from lambda_app.pg_driver import SingleExchangeConnection
from tests.pg_driver.connections import Connect
from tests.resetting_relay import ResettingRelay, resetting_relay


@pytest.fixture
def connect_args(database_url: str) -> dict[str, Any]:
    url = make_url(database_url)
    return {
        "user": url.username,
        "password": url.password,
        "host": url.host,
        "port": url.port or 5432,
        "database": url.database,
    }


@pytest.fixture
def opened(connect_args: dict[str, Any]) -> Iterator[Connect]:
    """Open connections of a given class on the test database; close them afterwards."""
    connections: list[Any] = []

    def open_connection(cls: type = SingleExchangeConnection, *, autocommit: bool = True) -> Any:
        connection = cls(**connect_args)
        connection.autocommit = autocommit
        connections.append(connection)
        return connection

    yield open_connection
    for connection in connections:
        with contextlib.suppress(InterfaceError):
            connection.close()


@pytest.fixture
def relayed(connect_args: dict[str, Any]) -> Iterator[tuple[ResettingRelay, Connect]]:
    """A resetting relay in front of the test database, and a way to connect through it."""
    with resetting_relay(connect_args["host"], connect_args["port"]) as relay:
        connections: list[Any] = []

        def open_connection(cls: type = SingleExchangeConnection) -> Any:
            connection = cls(**{**connect_args, "host": "127.0.0.1", "port": relay.port})
            connection.autocommit = True
            connections.append(connection)
            return connection

        yield relay, open_connection
        for connection in connections:
            with contextlib.suppress(InterfaceError, OSError):
                connection.close()

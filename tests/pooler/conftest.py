"""Poolers of their own for the tests that need a given number of server connections."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from sqlalchemy.engine import make_url

from local.pgbouncer import PgBouncer, pgbouncer_path
from tests.conftest import APP_DB_PASSWORD, APP_DB_ROLE

StartPooler = Callable[[int], AbstractContextManager[PgBouncer]]


@pytest.fixture
def start_pooler(postgres_server_url: str) -> StartPooler:
    """Start a PgBouncer in transaction mode with `n` server connections per database and user."""
    if pgbouncer_path() is None:
        pytest.skip("pgbouncer is not installed")
    superuser = make_url(postgres_server_url)
    users = {str(superuser.username): superuser.password, APP_DB_ROLE: APP_DB_PASSWORD}

    @contextmanager
    def start(server_connections: int) -> Iterator[PgBouncer]:
        with PgBouncer(postgres_server_url, users=users, pool_size=server_connections) as bouncer:
            yield bouncer

    return start

"""Round trips of a list page sent with Read-After: 2 when the replica answers, 3 when behind.

The writer's own targets are in tests/bench/test_round_trips.py (a list page: 2, the caller
and the page). Engine events name the server each statement ran on; `bench.round_trips`
counts every wait for a server, whichever it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event

from bench.events import http_api_event, lambda_context
from bench.round_trips import Recording, recording
from lambda_app.db import get_engine, get_reader_engine
from lambda_app.read_routing import READ_AFTER_HEADER
from tests.conftest import ADMIN_EMAIL, ADMIN_SUBJECT
from tests.replica.conftest import RoutingLog, Servers

pytestmark = pytest.mark.direct_database


@pytest.fixture
def handler(replica_app: None) -> Any:
    from lambda_app.handler import handler

    return handler


def _invoke(handler: Any, method: str, path: str, **options: Any) -> dict[str, Any]:
    read_after = options.pop("read_after", None)
    request = http_api_event(method, path, subject=ADMIN_SUBJECT, email=ADMIN_EMAIL, **options)
    if read_after is not None:
        request["headers"][READ_AFTER_HEADER.lower()] = read_after
    response: dict[str, Any] = handler(request, lambda_context())
    return response


def _create(handler: Any, email: str) -> str:
    """Create a user; return its ETag."""
    response = _invoke(handler, "POST", "/users", body={"email": email})
    assert response["statusCode"] == 201, response["body"]
    return str(response["headers"]["etag"])


@contextmanager
def servers_asked() -> Iterator[list[str]]:
    """The server ("writer" or "reader") of each statement the app's engines run meanwhile."""
    asked: list[str] = []
    reader = get_reader_engine()
    assert reader is not None
    engines: dict[str, Engine] = {"writer": get_engine(), "reader": reader}

    def listener(name: str) -> Any:
        def before_cursor_execute(*_: Any) -> None:
            asked.append(name)

        return before_cursor_execute

    listeners = [(engine, listener(name)) for name, engine in engines.items()]
    for engine, function in listeners:
        event.listen(engine, "before_cursor_execute", function)
    try:
        yield asked
    finally:
        for engine, function in listeners:
            event.remove(engine, "before_cursor_execute", function)


def _list_page(handler: Any, read_after: str | None) -> tuple[Recording, list[str]]:
    with recording() as recorded, servers_asked() as asked:
        response = _invoke(handler, "GET", "/users", query={"limit": "20"}, read_after=read_after)
    assert response["statusCode"] == 200, response["body"]
    return recorded, asked


@pytest.fixture
def warm(handler: Any, servers: Servers) -> str:
    """Both connections open (a page the replica answered); the ETag of a write it holds."""
    etag = _create(handler, "first@example.com")
    servers.resume_replay_and_catch_up()
    _list_page(handler, etag)
    return etag


def test_a_page_the_replica_answers_costs_the_caller_on_the_writer_and_the_page(
    handler: Any, warm: str, routing_log: RoutingLog
) -> None:
    recorded, asked = _list_page(handler, warm)

    assert asked == ["writer", "reader"], "\n".join(recorded.describe())
    assert recorded.round_trips == 2, "\n".join(recorded.describe())
    assert routing_log.answered_by[-1] == "replica"


def test_a_replica_behind_the_write_adds_the_writers_page(
    handler: Any, warm: str, servers: Servers, routing_log: RoutingLog
) -> None:
    servers.pause_replay()
    etag = _create(handler, "second@example.com")

    recorded, asked = _list_page(handler, etag)

    assert asked == ["writer", "reader", "writer"], "\n".join(recorded.describe())
    assert recorded.round_trips == 3, "\n".join(recorded.describe())
    assert routing_log.answered_by[-1] == "writer (behind)"


def test_a_page_without_read_after_stays_on_the_writer(handler: Any, warm: str) -> None:
    recorded, asked = _list_page(handler, None)

    assert asked == ["writer", "writer"], "\n".join(recorded.describe())
    assert recorded.round_trips == 2, "\n".join(recorded.describe())

"""Bounding a boto3 client's attempts by the deadline of the call in progress.

A handler registered first on the client's `before-send` event (retries included) refuses
to start an attempt whose connect and read timeouts could end after the deadline of the
call in progress, so a slow service fails the request in bounded time instead of
outliving the Lambda invocation or API Gateway's wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from lambda_app.deadline import Deadline


class DeadlineReachedError(Exception):
    """An attempt was not started: it could not have ended before the caller's deadline."""


class AttemptDeadline:
    """The deadline of the calls in progress on one service's client, in this context."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._deadline: ContextVar[Deadline | None] = ContextVar(
            f"{service}_deadline", default=None
        )

    def install(self, client: Any, *, attempt_seconds: float) -> None:
        """Refuse, before each attempt of `client`, one that could outlast the deadline."""
        event = f"before-send.{client.meta.service_model.service_id.hyphenize()}"
        # First, before any other handler (moto's too) answers or sends the attempt.
        client.meta.events.register_first(event, lambda **_: self._refuse(attempt_seconds))

    @contextmanager
    def applied(self, deadline: Deadline | None) -> Iterator[None]:
        """Bound the attempts made inside by `deadline` (None: unbounded)."""
        token = self._deadline.set(deadline)
        try:
            yield
        finally:
            self._deadline.reset(token)

    def _refuse(self, attempt_seconds: float) -> None:
        deadline = self._deadline.get()
        if deadline is not None and not deadline.allows(attempt_seconds):
            raise DeadlineReachedError(
                f"{deadline.remaining():.1f} s left, and a {self._service} attempt may take "
                f"{attempt_seconds} s"
            )

"""What a load pass saw: latencies and statuses per route, and the evidence its invariants read."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from local.load.fleet import ApiAnswer

# A request the load's client makes itself: the browser's upload to S3, not a Lambda route.
CLIENT_UPLOAD = "(client) POST presigned upload"


@dataclass(frozen=True)
class ServerError:
    """A 5xx answer: where, and whether it was a problem+json."""

    route: str
    status: int
    content_type: str
    title: str | None


@dataclass
class Tally:
    """Per route template: how long each invocation took (ms) and what it answered."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # Split by whether it was the container's first call of the route (lazy imports, connecting).
    first_latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    warm_latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    server_errors: list[ServerError] = field(default_factory=list)
    transport_errors: Counter[str] = field(default_factory=Counter)
    base64_bodies: int = 0
    # List pages answered (200) by the server that answered them: "replica", "writer (...)".
    pages_from: Counter[str] = field(default_factory=Counter)

    def add(self, route: str, answer: ApiAnswer) -> None:
        """Count one answer."""
        self.latencies[route].append(answer.ms)
        (self.first_latencies if answer.first else self.warm_latencies)[route].append(answer.ms)
        self.statuses[route][answer.status] += 1
        self.base64_bodies += answer.base64
        if answer.status >= 500:
            title = answer.field("title")
            self.server_errors.append(
                ServerError(
                    route=route,
                    status=answer.status,
                    content_type=answer.headers.get("content-type", ""),
                    title=str(title) if title is not None else None,
                )
            )

    @property
    def requests(self) -> int:
        """How many invocations and client uploads were counted."""
        return sum(len(values) for values in self.latencies.values())

    @property
    def invocations(self) -> int:
        """How many times a container's handler was invoked."""
        return self.requests - len(self.latencies.get(CLIENT_UPLOAD, ()))


@dataclass(frozen=True)
class KeyedAnswer:
    """One answer to a request that carried an Idempotency-Key."""

    status: int
    user_id: str | None
    replayed: bool


@dataclass(frozen=True)
class ConditionalWrite:
    """A write sent with If-Match: the version it named, and what came of it.

    `known_stale`: the driver had already seen the user move past that version when it sent it.
    """

    route: str
    user_id: str
    if_match_version: int
    status: int
    new_version: int | None
    known_stale: bool


@dataclass(frozen=True)
class SignUpTwins:
    """One identity's two simultaneous `POST /users/me` for an account an admin made for it."""

    user_id: str
    answers: tuple[tuple[int, str | None, str | None], ...]  # status, title, id


@dataclass(frozen=True)
class NamedWrite:
    """A caller's latest create or update as its answer showed it: what its Read-After names."""

    etag: str
    user_id: str
    email: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PageAfterWrite:
    """A list page sent with Read-After: the write it named and what it showed of that user.

    `must_show`: the page's filter and range hold the user, if it still exists.
    `shown_updated_at`: the user's `updated_at` on the page; None when it was not on it.
    `answered_at`: when the answer arrived (the driver's monotonic clock).
    """

    named: NamedWrite
    must_show: bool
    shown_updated_at: datetime | None
    answered_at: float
    read_from: str | None


@dataclass
class Evidence:
    """What the invariants check besides the database."""

    keyed: dict[str, list[KeyedAnswer]] = field(default_factory=lambda: defaultdict(list))
    conditional_writes: list[ConditionalWrite] = field(default_factory=list)
    sign_up_twins: list[SignUpTwins] = field(default_factory=list)
    rounds: Counter[str] = field(default_factory=Counter)
    pages_after_writes: list[PageAfterWrite] = field(default_factory=list)
    # User id -> when the first DELETE of it was sent (the driver's monotonic clock).
    deletes_sent: dict[str, float] = field(default_factory=dict)

"""How long an invocation may still work: Lambda's time left, capped by API Gateway's limit.

Calls to other services check it before each attempt (external_services/aws.py), so a slow
dependency fails the request in bounded time instead of outliving the caller that waits.
"""

from __future__ import annotations

import math
import time
from typing import Any, NamedTuple

# The longest an API Gateway integration may take: 30 s for an HTTP API (a hard limit), 29 s
# by default for a REST API; the lower one serves both (infra/DEPLOY.md cites the quotas).
API_GATEWAY_TIMEOUT_SECONDS = 29.0
# Kept back to answer once a call gives up: a database write and the response.
ANSWER_RESERVE_SECONDS = 1.0


class Deadline(NamedTuple):
    """A point on the monotonic clock after which no new attempt may start."""

    at: float

    @classmethod
    def unbounded(cls) -> Deadline:
        """No deadline: a local call with no caller waiting on a clock."""
        return cls(at=math.inf)

    @classmethod
    def in_seconds(cls, seconds: float) -> Deadline:
        """The deadline `seconds` from now."""
        return cls(at=time.monotonic() + seconds)

    @classmethod
    def of_invocation(cls, context: Any, *, cap_seconds: float | None = None) -> Deadline:
        """The time left of a Lambda invocation (`context`, if any), at most `cap_seconds`,
        less the reserve to answer."""
        budget = math.inf if cap_seconds is None else cap_seconds
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        if remaining_ms is not None:
            budget = min(budget, remaining_ms() / 1000)
        if math.isinf(budget):
            return cls.unbounded()
        return cls.in_seconds(budget - ANSWER_RESERVE_SECONDS)

    def remaining(self) -> float:
        """Seconds left; negative once passed."""
        return self.at - time.monotonic()

    def allows(self, seconds: float) -> bool:
        """Tell whether work that may take `seconds` still ends before the deadline."""
        return self.remaining() >= seconds


def request_deadline(scope: Any) -> Deadline:
    """The deadline of an API request: its Lambda invocation's, within API Gateway's limit."""
    return Deadline.of_invocation(scope.get("aws.context"), cap_seconds=API_GATEWAY_TIMEOUT_SECONDS)

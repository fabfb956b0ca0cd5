"""The deadline of an invocation: Lambda's time left, within API Gateway's limit, less a reserve."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lambda_app.deadline import (
    ANSWER_RESERVE_SECONDS,
    API_GATEWAY_TIMEOUT_SECONDS,
    Deadline,
    request_deadline,
)

# Slack for the test's own time between building a deadline and reading it.
SLACK = 0.5


def lambda_context(milliseconds_left: int) -> SimpleNamespace:
    return SimpleNamespace(get_remaining_time_in_millis=lambda: milliseconds_left)


@pytest.mark.parametrize(
    ("milliseconds_left", "expected"),
    [
        (10_000, 10 - ANSWER_RESERVE_SECONDS),  # Lambda's timeout comes first
        (60_000, API_GATEWAY_TIMEOUT_SECONDS - ANSWER_RESERVE_SECONDS),  # API Gateway's
    ],
)
def test_a_request_has_the_time_its_invocation_and_api_gateway_leave(
    milliseconds_left: int, expected: float
) -> None:
    scope = {"aws.context": lambda_context(milliseconds_left)}

    remaining = request_deadline(scope).remaining()

    assert expected - SLACK < remaining <= expected


def test_a_request_outside_lambda_has_api_gateways_limit() -> None:
    remaining = request_deadline({}).remaining()

    assert remaining > API_GATEWAY_TIMEOUT_SECONDS - ANSWER_RESERVE_SECONDS - SLACK


def test_a_scheduled_invocation_has_its_own_time_and_a_local_call_no_limit() -> None:
    assert Deadline.of_invocation(lambda_context(300_000)).allows(298)
    assert not Deadline.of_invocation(lambda_context(300_000)).allows(300)
    assert Deadline.of_invocation(None).allows(10**9)


def test_work_is_allowed_only_if_it_ends_before_the_deadline() -> None:
    deadline = Deadline.in_seconds(5)

    assert deadline.allows(4)
    assert not deadline.allows(6)
    assert not Deadline.in_seconds(-1).allows(0)

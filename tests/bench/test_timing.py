"""The bench's timing passes: which handlers share a pass, and in what order they run."""

from __future__ import annotations

from typing import Any

from bench.timing import Handler, time_pairs
from bench.warm import Caller, compared, get_user


def recording_handlers(calls: list[str], names: tuple[str, ...]) -> dict[str, Handler]:
    """Handlers that answer 200 and append their name to `calls` when called."""

    def handler_named(name: str) -> Handler:
        def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
            calls.append(name)
            return {"statusCode": 200}

        return handler

    return {name: handler_named(name) for name in names}


def test_each_floor_is_timed_in_its_own_pass_with_the_app() -> None:
    calls: list[str] = []
    handlers = recording_handlers(calls, ("app", "raw", "floor"))

    pairs = time_pairs(handlers, dict, reference="app", expected_status=200, samples=4, warmup=1)

    # Five rounds of two calls per pass: raw's pass first, then the floor's.
    raw_pass, floor_pass = calls[:10], calls[10:]
    assert set(raw_pass) == {"app", "raw"}
    assert set(floor_pass) == {"app", "floor"}
    assert floor_pass[:4] == ["app", "floor", "floor", "app"]  # who goes first alternates
    assert {name: sorted(pair) for name, pair in pairs.items()} == {
        "raw": ["app", "raw"],
        "floor": ["app", "floor"],
    }
    assert all(len(samples.wall) == 4 for pair in pairs.values() for samples in pair.values())


def test_the_app_is_reported_from_each_pass_under_its_own_name() -> None:
    handlers = recording_handlers([], ("app", "raw", "floor"))
    pairs = time_pairs(handlers, dict, reference="app", expected_status=200, samples=3, warmup=0)

    fields = compared(pairs).as_json()

    assert fields["app_us_samples"] == fields["app_beside_raw_us_samples"] == 3
    assert {"raw_us", "floor_us", "ratio", "ratio_vs_floor"} <= set(fields)


def test_each_stack_is_timed_on_get_user_in_a_pass_of_its_own_beside_the_floor() -> None:
    calls: list[str] = []
    handlers = recording_handlers(calls, ("app", "raw", "floor", "stack", "bare_stack"))
    stacks = {name: handlers.pop(name) for name in ("stack", "bare_stack")}

    fields = get_user(
        handlers, Caller("subject", "a@example.com"), "id", stacks=stacks, samples=3, warmup=1
    ).as_json()

    # Two calls per round, four rounds per pass: raw's pass, the floor's, then each stack's,
    # then the app's beside the bare stack.
    assert set(calls[:16]) == {"app", "raw", "floor"}
    assert set(calls[16:24]) == {"stack", "floor"}
    assert set(calls[24:32]) == {"bare_stack", "floor"}
    assert set(calls[32:]) == {"app", "bare_stack"}
    assert len(calls) == 40
    for name in stacks:
        assert fields[f"{name}_us_samples"] == fields[f"floor_beside_{name}_us_samples"] == 3
        assert f"ratio_{name}_vs_floor" in fields
    assert fields["app_beside_bare_stack_us_samples"] == 3
    assert fields["bare_stack_beside_app_us_samples"] == 3
    assert {"ratio_vs_bare_stack", "cpu_ratio_vs_bare_stack"} <= set(fields)

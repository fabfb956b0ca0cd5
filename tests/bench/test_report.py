"""The bench report: the targets it checks and how it prints a missing measurement."""

from __future__ import annotations

from typing import Any

from bench.report import TARGETS, check_targets


def results(**overrides: Any) -> dict[str, Any]:
    """A run's results with every targeted value at its limit, then `overrides` (dotted keys)."""
    document: dict[str, Any] = {}
    for path, limit in {**TARGETS, **overrides}.items():
        node = document
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = limit
    return document


def test_issue_26s_targets_are_checked_and_the_floor_ratio_is_not() -> None:
    assert TARGETS["latency.get_user.ratio_vs_bare_stack"] == 1.10
    assert TARGETS["latency.get_user.cpu_ratio_vs_bare_stack"] == 1.15
    assert TARGETS["cold_start.deployed.ratio_vs_empty_fastapi"] == 1.5
    assert TARGETS["cold_start.deployed.first_request_new_modules"] == 0
    assert "latency.get_user.ratio_vs_floor" not in TARGETS


def test_the_round_trip_targets_stay_one_for_reads_of_a_user_and_two_for_lists_and_writes() -> None:
    assert TARGETS["round_trips.get_user.app"] == 1
    assert TARGETS["round_trips.list_users.app"] == 2
    assert TARGETS["round_trips.create_user.app"] == 2


def test_a_value_at_its_limit_is_met_and_one_above_is_missed() -> None:
    checked = check_targets(results(**{"latency.get_user.cpu_ratio_vs_bare_stack": 1.16}))

    assert checked["latency.get_user.ratio_vs_bare_stack"]["met"]
    assert not checked["latency.get_user.cpu_ratio_vs_bare_stack"]["met"]
    assert checked["cold_start.deployed.first_request_new_modules"]["met"]


def test_a_deployed_cold_start_that_was_not_measured_is_not_met() -> None:
    run = results()
    run["cold_start"]["deployed"] = {"measured": False, "reason": "BENCH_DATABASE_URL"}

    checked = check_targets(run)

    target = checked["cold_start.deployed.ratio_vs_empty_fastapi"]
    assert (target["value"], target["met"]) == (None, False)

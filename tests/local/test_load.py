"""`make load`, short: Lambda-like containers through PgBouncer keep every invariant.

The timings are `make load`'s business (a shared machine makes them noise here); these tests
hold the run to what must be true whatever the timing, and show that each check can fail.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from local.load import invariants
from local.load.fleet import ApiAnswer
from local.load.invariants import Check
from local.load.passes import LoadOptions, PassResult, run_pass
from local.load.pool_watch import PoolFigures
from local.load.report import ISOLATION, compare
from local.load.stack import Services, shared_services
from local.load.tally import ConditionalWrite, Evidence, KeyedAnswer, SignUpTwins, Tally
from local.pgbouncer import pgbouncer_path
from tests.test_conflicts import a_real_deadlock

pytestmark = [
    pytest.mark.database,
    pytest.mark.skipif(pgbouncer_path() is None, reason="the load runs through pgbouncer"),
]
SHORT = LoadOptions(workers=3, server_connections=2, seconds=4.0, seed_users=8)
# The invariants of issue 25 (section 4) and issue 28 (section 4) that the mixed run must keep.
MIXED_RUN_INVARIANTS = [
    invariants.NO_5XX,
    invariants.COUNTS_MATCH,
    invariants.AN_ADMIN,
    invariants.UNIQUE_EMAILS,
    invariants.REPLAYS,
    invariants.NO_DEADLOCK,
    invariants.NO_STALE_WRITE,
    invariants.OWN_WRITES,
]
USER_ID = "0b6c3a8e-3f0e-4a51-9c55-0d8f5f3a7b11"
OTHER_ID = "5d0e1f2a-7b3c-4d8e-9f10-a1b2c3d4e5f6"


@pytest.fixture(scope="module")
def services(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """moto's S3 and the test run's PostgreSQL server, shared by the module's passes."""
    with shared_services(tmp_path_factory.mktemp("load"), postgres_server_url) as started:
        yield started


@pytest.fixture(scope="module")
def short_pass(services: Services, tmp_path_factory: pytest.TempPathFactory) -> PassResult:
    """The whole mix from 3 containers over 2 server connections for a few seconds."""
    return run_pass(services, SHORT, tmp_path_factory.mktemp("load-logs"))


def check_named(result: PassResult, name: str) -> Check:
    return next(check for check in result.checks if check.name == name)


@pytest.mark.parametrize("name", MIXED_RUN_INVARIANTS)
def test_a_short_mixed_load_keeps_the_invariant(short_pass: PassResult, name: str) -> None:
    check = check_named(short_pass, name)

    assert check.passed, check.detail


def test_the_short_load_ran_every_scenario_and_read_the_pool(short_pass: PassResult) -> None:
    assert set(short_pass.evidence.rounds) == set(SHORT.scenarios)
    assert short_pass.evidence.keyed
    assert short_pass.evidence.conditional_writes
    assert short_pass.pool.samples > 0
    assert short_pass.pool.transactions > 0
    assert 1 <= short_pass.pool.most_server_connections <= SHORT.server_connections


def test_sign_up_twins_are_told_their_own_account(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> None:
    only_twins = LoadOptions(
        workers=2, server_connections=2, seconds=3.0, seed_users=2, scenarios=("sign-up twins",)
    )
    result = run_pass(services, only_twins, tmp_path_factory.mktemp("twins-logs"))
    check = check_named(result, invariants.SIGN_UP_TWINS)

    assert len(result.evidence.sign_up_twins) >= 10
    assert check.passed, check.detail


def answer(status: int, **fields: object) -> ApiAnswer:
    content_type = "application/problem+json" if status >= 400 else "application/json"
    return ApiAnswer(status, {"content-type": content_type}, dict(fields), 5.0)


def test_a_5xx_fails_the_run_unless_s3_is_slowed_and_it_is_an_s3_problem() -> None:
    s3_problem, listing_error = Tally(), Tally()
    s3_problem.add("DELETE /users/{user_id}", answer(502, title="File storage unavailable"))
    listing_error.add("GET /users", answer(503, title="Database unavailable"))

    assert not invariants.no_server_errors(s3_problem, s3_slowed=False).passed
    assert invariants.no_server_errors(s3_problem, s3_slowed=True).passed
    assert not invariants.no_server_errors(listing_error, s3_slowed=True).passed


def test_a_replay_with_another_user_or_a_second_creation_fails() -> None:
    replayed_another, created_twice = Evidence(), Evidence()
    replayed_another.keyed["k"] += [
        KeyedAnswer(201, USER_ID, replayed=False),
        KeyedAnswer(201, OTHER_ID, replayed=True),
    ]
    created_twice.keyed["k"] += [
        KeyedAnswer(201, USER_ID, replayed=False),
        KeyedAnswer(201, OTHER_ID, replayed=False),
    ]
    fine = Evidence()
    fine.keyed["k"] += [
        KeyedAnswer(201, USER_ID, replayed=False),
        KeyedAnswer(409, None, replayed=False),
        KeyedAnswer(201, USER_ID, replayed=True),
    ]

    assert not invariants.replays_return_the_first(replayed_another).passed
    assert not invariants.replays_return_the_first(created_twice).passed
    assert invariants.replays_return_the_first(fine).passed


def conditional(status: int, if_match: int, new: int | None, *, stale: bool) -> Evidence:
    evidence = Evidence()
    write = ConditionalWrite("PATCH /users/{user_id}", USER_ID, if_match, status, new, stale)
    evidence.conditional_writes.append(write)
    return evidence


def test_an_old_etag_that_wins_fails_the_run() -> None:
    assert not invariants.no_stale_write(conditional(200, 3, 4, stale=True)).passed
    assert not invariants.no_stale_write(conditional(200, 3, 6, stale=False)).passed
    assert invariants.no_stale_write(conditional(200, 3, 4, stale=False)).passed
    assert invariants.no_stale_write(conditional(412, 3, None, stale=True)).passed


def test_a_twin_told_its_email_belongs_to_another_sign_in_fails_the_run() -> None:
    wrong, right = Evidence(), Evidence()
    wrong.sign_up_twins.append(
        SignUpTwins(USER_ID, ((200, None, USER_ID), (409, invariants.EMAIL_TAKEN, None)))
    )
    right.sign_up_twins.append(
        SignUpTwins(USER_ID, ((200, None, USER_ID), (409, "Already registered", None)))
    )

    assert not invariants.sign_up_twins_told_their_own_account(wrong).passed
    assert invariants.sign_up_twins_told_their_own_account(right).passed


def database_check(engine: Engine, name: str, *breakage: str) -> Check:
    """The named database check, run after `breakage` in a transaction that is rolled back."""
    with engine.connect() as connection:
        for statement in breakage:
            connection.execute(text(statement))
        checks = invariants.database_checks(connection)
        connection.rollback()
    return next(check for check in checks if check.name == name)


def test_the_database_checks_fail_on_what_they_guard(db_engine: Engine) -> None:
    admin = "INSERT INTO users (email, user_type) VALUES ('root@example.com', 'admin')"

    assert not database_check(
        db_engine, invariants.COUNTS_MATCH, "UPDATE user_counts SET total = total + 1"
    ).passed
    assert not database_check(db_engine, invariants.AN_ADMIN, "DELETE FROM users").passed
    assert database_check(db_engine, invariants.AN_ADMIN, admin).passed
    assert not database_check(
        db_engine,
        invariants.UNIQUE_EMAILS,
        "ALTER TABLE users DROP CONSTRAINT uq_users_email",
        "ALTER TABLE users DROP CONSTRAINT ck_users_email_normalized",
        "INSERT INTO users (email) VALUES ('ada@example.com'), ('Ada@example.com')",
    ).passed


@pytest.mark.usefixtures("app_env")  # which empties the tables after the test
def test_a_real_deadlock_is_counted(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        before = invariants.deadlocks_counted(connection)
    a_real_deadlock(db_engine)
    # The backend reports its statistics within a second or so of going idle.
    deadline = time.monotonic() + 15
    counted = 0
    while not counted and time.monotonic() < deadline:
        time.sleep(0.2)
        with db_engine.connect() as connection:
            counted = invariants.deadlocks_counted(connection) - before

    assert not invariants.no_deadlock(counted, logged=None).passed


def finished_pass(latencies: dict[str, list[float]], *, s3_delay_ms: float) -> PassResult:
    tally = Tally()
    for route, values in latencies.items():
        for value in values:
            tally.add(route, ApiAnswer(200, {}, None, value))
    pool = PoolFigures(1, 0, 0.0, 1, 1, 0.0, 1.0)
    options = LoadOptions(s3_delay_ms=s3_delay_ms)
    return PassResult(options, tally, Evidence(), 1.0, pool, [100.0])


def test_with_s3_slowed_a_route_without_s3_that_slows_past_3x_fails() -> None:
    baseline = finished_pass(
        {"GET /users/{user_id}": [10.0] * 100, "DELETE /users/{user_id}": [20.0] * 100},
        s3_delay_ms=0,
    )
    isolated = finished_pass(
        {"GET /users/{user_id}": [25.0] * 100, "DELETE /users/{user_id}": [2020.0] * 100},
        s3_delay_ms=2000,
    )
    stalled = finished_pass(
        {"GET /users/{user_id}": [1900.0] * 100, "DELETE /users/{user_id}": [2020.0] * 100},
        s3_delay_ms=2000,
    )

    _, held = compare(baseline, isolated)
    _, broken = compare(baseline, stalled)

    assert held is not None
    assert held.name == ISOLATION
    assert held.passed
    assert broken is not None
    assert not broken.passed
    assert "GET /users/{user_id}" in broken.detail

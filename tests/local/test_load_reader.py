"""`make load READER=1`, short: with a hot standby behind its own PgBouncer, list pages go to
the replica and every invariant holds, including that no caller sees its own write go back.

The pass runs on an embedded server of its own (a standby is copied from it with
pg_basebackup); the run's shared server may be one that cannot be copied (TEST_DATABASE_URL).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambda_app.read_routing import READ_AFTER_HEADER
from local.load import invariants
from local.load.fleet import ApiAnswer
from local.load.passes import LoadOptions, PassResult, run_pass
from local.load.read_after import READ_AFTER, page_after_write
from local.load.stack import Services, shared_services
from local.load.tally import Evidence, NamedWrite, PageAfterWrite
from local.pgbouncer import pgbouncer_path
from tests.local.test_load import MIXED_RUN_INVARIANTS, check_named

pytestmark = pytest.mark.skipif(pgbouncer_path() is None, reason="the load runs through pgbouncer")
# The replica applies commits 100 ms late: pages naming a fresh write find it behind.
SHORT_WITH_READER = LoadOptions(
    workers=3,
    server_connections=2,
    seconds=4.0,
    seed_users=8,
    reader_server_connections=1,
    replica_lag_ms=100,
)
USER_ID = "0b6c3a8e-3f0e-4a51-9c55-0d8f5f3a7b11"
WRITTEN_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
NAMED = NamedWrite(
    etag=f'"{USER_ID.replace("-", "")}-2"',
    user_id=USER_ID,
    email="named@example.com",
    created_at=WRITTEN_AT - timedelta(minutes=1),
    updated_at=WRITTEN_AT,
)


@pytest.fixture(scope="module")
def services_with_replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """moto's S3, an embedded PostgreSQL and its hot standby."""
    with shared_services(tmp_path_factory.mktemp("load-reader"), replica=True) as started:
        yield started


@pytest.fixture(scope="module")
def reader_pass(
    services_with_replica: Services, tmp_path_factory: pytest.TempPathFactory
) -> PassResult:
    """The whole mix from 3 containers; the replica, 100 ms behind, through 1 server connection."""
    return run_pass(
        services_with_replica, SHORT_WITH_READER, tmp_path_factory.mktemp("load-reader-logs")
    )


@pytest.mark.parametrize("name", MIXED_RUN_INVARIANTS)
def test_a_short_load_with_a_reader_keeps_the_invariant(reader_pass: PassResult, name: str) -> None:
    check = check_named(reader_pass, name)

    assert check.passed, check.detail


def test_the_replica_answers_list_pages_through_its_own_pooler(reader_pass: PassResult) -> None:
    pages = reader_pass.evidence.pages_after_writes
    asked_the_replica = sum(page.read_from in ("replica", "writer (behind)") for page in pages)

    assert pages
    # The app named the server of every page sent with Read-After, and asked the replica first.
    assert asked_the_replica == len(pages), reader_pass.tally.pages_from
    # Pages naming an older write (staff's own sign-up) find it there; a fresh one, not yet.
    assert reader_pass.tally.pages_from["replica"] > 0
    assert reader_pass.tally.pages_from["writer (behind)"] > 0
    assert reader_pass.reader_pool is not None
    assert reader_pass.reader_pool.transactions >= asked_the_replica
    assert reader_pass.reader_pool.most_server_connections == 1


def test_the_load_sends_the_header_the_api_reads() -> None:
    assert READ_AFTER == READ_AFTER_HEADER


def page(*items: dict[str, Any], next_cursor: str | None = None) -> ApiAnswer:
    body = {"items": list(items), "next_cursor": next_cursor}
    return ApiAnswer(200, {"content-type": "application/json"}, body, 5.0)


def user(user_id: str, created_at: datetime, updated_at: datetime) -> dict[str, Any]:
    return {
        "id": user_id,
        "created_at": created_at.isoformat(),
        "updated_at": updated_at.isoformat(),
    }


def other(minutes: int) -> dict[str, Any]:
    created_at = NAMED.created_at + timedelta(minutes=minutes)
    return user(str(uuid.uuid4()), created_at, created_at)


def seen(answer: ApiAnswer, **query: str) -> PageAfterWrite:
    return page_after_write(NAMED, {"limit": "20", **query}, answer, answered_at=10.0)


def test_a_page_must_show_the_named_user_when_its_filter_and_range_hold_it() -> None:
    assert seen(page(), email=NAMED.email).must_show
    assert seen(page(other(-5), other(5)), offset="40").must_show
    assert seen(page(other(-5)), offset="40").must_show  # the last page
    assert seen(page(other(5))).must_show  # the first page
    assert not seen(page(other(-5)), user_type="staff").must_show  # its type may have changed
    assert not seen(page(other(-5), next_cursor="more"), offset="40").must_show
    assert not seen(page(other(5), other(6)), offset="40").must_show


def evidence_of(*pages: PageAfterWrite, deleted_at: float | None = None) -> Evidence:
    evidence = Evidence()
    evidence.pages_after_writes.extend(pages)
    if deleted_at is not None:
        evidence.deletes_sent[USER_ID] = deleted_at
    return evidence


def test_a_page_that_shows_an_older_version_or_leaves_the_user_out_fails_the_run() -> None:
    at_write = seen(page(user(USER_ID, NAMED.created_at, WRITTEN_AT)), email=NAMED.email)
    later = seen(page(user(USER_ID, NAMED.created_at, WRITTEN_AT + timedelta(seconds=1))))
    older = seen(page(user(USER_ID, NAMED.created_at, WRITTEN_AT - timedelta(seconds=1))))
    left_out = seen(page(), email=NAMED.email)

    assert invariants.own_writes_never_go_backwards(evidence_of(at_write, later)).passed
    assert not invariants.own_writes_never_go_backwards(evidence_of(older)).passed
    assert not invariants.own_writes_never_go_backwards(evidence_of(left_out)).passed
    # Left out after a delete of the user was sent: the user is gone, rightly.
    assert invariants.own_writes_never_go_backwards(evidence_of(left_out, deleted_at=9.0)).passed
    assert not invariants.own_writes_never_go_backwards(
        evidence_of(left_out, deleted_at=11.0)
    ).passed

"""What must hold after a load pass, whatever the timing: checked on answers and the database."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, text

from local.load.tally import CLIENT_UPLOAD, Evidence, Tally
from local.load.workload import S3_ROUTES

NO_5XX = "no 5xx"
COUNTS_MATCH = "per-type counts equal the real counts"
AN_ADMIN = "at least one admin"
UNIQUE_EMAILS = "no duplicate email (case-insensitive)"
REPLAYS = "idempotent replays return the first id"
NO_DEADLOCK = "no deadlock"
NO_STALE_WRITE = "no stale If-Match succeeded"
SIGN_UP_TWINS = "sign-up twins are told their own account"
OWN_WRITES = "no caller saw its own write go backwards"
# What a failing S3 may answer on its routes when a fault is injected: a problem, 502 or 503.
S3_FAULT_STATUSES = frozenset({502, 503})
PROBLEM_JSON = "application/problem+json"
# Title of the 409 that says the email's account belongs to another identity.
EMAIL_TAKEN = "Email already registered"
DEADLOCK_LOGGED = "deadlock detected"


@dataclass(frozen=True)
class Check:
    """One invariant and whether it held."""

    name: str
    passed: bool
    detail: str


def no_server_errors(tally: Tally, *, s3_slowed: bool) -> Check:
    """No 5xx; with S3 slowed, S3 routes may answer 502/503 problems, and nothing else may."""
    allowed = [
        error
        for error in tally.server_errors
        if s3_slowed
        and error.route in S3_ROUTES
        and error.status in S3_FAULT_STATUSES
        and error.content_type.startswith(PROBLEM_JSON)
    ]
    wrong = Counter(
        f"{error.route} {error.status} {error.title or error.content_type}"
        for error in tally.server_errors
        if error not in allowed and error.route != CLIENT_UPLOAD
    )
    detail = ", ".join(f"{what}: {count}" for what, count in wrong.most_common()) or "none"
    if allowed:
        detail += f" (and {len(allowed)} S3 problems, expected with S3 slowed)"
    return Check(NO_5XX, not wrong, detail)


def database_checks(connection: Connection) -> list[Check]:
    """The invariants the database itself must satisfy."""
    kept = _per_type(connection, "SELECT user_type::text, total FROM user_counts")
    real = _per_type(connection, "SELECT user_type::text, count(*) FROM users GROUP BY 1")
    differences = {
        kind: (kept.get(kind, 0), real.get(kind, 0))
        for kind in sorted(set(kept) | set(real))
        if kept.get(kind, 0) != real.get(kind, 0)
    }
    totals = ", ".join(f"{kind} {count}" for kind, count in sorted(real.items()))
    admins = int(real.get("admin", 0))
    duplicates = connection.execute(
        text("SELECT lower(email), count(*) FROM users GROUP BY 1 HAVING count(*) > 1")
    ).all()
    return [
        Check(
            COUNTS_MATCH,
            not differences,
            f"kept vs real: {differences}" if differences else f"both say {totals or 'none'}",
        ),
        Check(AN_ADMIN, admins >= 1, f"{admins} admins"),
        Check(UNIQUE_EMAILS, not duplicates, f"{len(duplicates)} emails held by several users"),
    ]


def _per_type(connection: Connection, query: str) -> dict[str, int]:
    return {str(kind): int(count) for kind, count in connection.execute(text(query))}


def deadlocks_counted(connection: Connection) -> int:
    """PostgreSQL's count of deadlocks in the current database since its statistics began."""
    return int(
        connection.scalar(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
        or 0
    )


def no_deadlock(counted: int, logged: int | None) -> Check:
    """No deadlock counted by the server's statistics, nor written to its log (when we have it)."""
    detail = f"pg_stat_database.deadlocks +{counted}"
    if logged is not None:
        detail += f", '{DEADLOCK_LOGGED}' {logged} times in the server log"
    return Check(NO_DEADLOCK, counted == 0 and not logged, detail)


def replays_return_the_first(evidence: Evidence) -> Check:
    """Every key made one user at most, and every replay of it returned that user."""
    wrong = 0
    replays = 0
    for answers in evidence.keyed.values():
        firsts = {a.user_id for a in answers if a.status < 300 and not a.replayed}
        replayed = [a.user_id for a in answers if a.status < 300 and a.replayed]
        replays += len(replayed)
        wrong += len(firsts) > 1 or any(user_id not in firsts for user_id in replayed)
    in_flight = sum(a.status == 409 for answers in evidence.keyed.values() for a in answers)
    detail = (
        f"{len(evidence.keyed)} keys, {replays} replays, {in_flight} in-flight 409s, "
        f"{wrong} keys answered with another user"
    )
    return Check(REPLAYS, wrong == 0, detail)


def no_stale_write(evidence: Evidence) -> Check:
    """A write If-Match version v succeeds only on v: a known-old version is 412, never 2xx."""
    writes = evidence.conditional_writes
    stale_successes = [w for w in writes if w.known_stale and w.status < 300]
    skipped_versions = [
        w
        for w in writes
        if w.status < 300 and w.new_version is not None and w.new_version != w.if_match_version + 1
    ]
    refused = sum(w.status == 412 for w in writes)
    detail = (
        f"{len(writes)} conditional writes ({sum(w.known_stale for w in writes)} with a known-old "
        f"ETag), {refused} refused 412, {len(stale_successes)} old ETags accepted, "
        f"{len(skipped_versions)} successes past a newer version"
    )
    return Check(NO_STALE_WRITE, not stale_successes and not skipped_versions, detail)


def sign_up_twins_told_their_own_account(evidence: Evidence) -> Check:
    """Each twin is linked (the user's id) or told it is registered, never that another owns it."""
    wrong = Counter(
        f"{status} {title}" if status >= 300 else f"{status} another user"
        for twins in evidence.sign_up_twins
        for status, title, user_id in twins.answers
        if (status < 300 and user_id != twins.user_id) or (status == 409 and title == EMAIL_TAKEN)
    )
    detail = f"{len(evidence.sign_up_twins)} rounds; wrong answers: " + (
        ", ".join(f"{what} x{count}" for what, count in wrong.most_common()) or "none"
    )
    return Check(SIGN_UP_TWINS, not wrong, detail)


def own_writes_never_go_backwards(evidence: Evidence) -> Check:
    """A page with Read-After shows its user at that version or later, unless a delete came first.

    The user must be on the page when the page's filter and range hold it (`must_show`).
    """
    pages = evidence.pages_after_writes
    shown = [page for page in pages if page.shown_updated_at is not None]
    older = [
        page
        for page in shown
        if page.shown_updated_at is not None and page.shown_updated_at < page.named.updated_at
    ]
    absent = [page for page in pages if page.must_show and page.shown_updated_at is None]
    deleted = [
        page
        for page in absent
        if evidence.deletes_sent.get(page.named.user_id, math.inf) < page.answered_at
    ]
    detail = (
        f"{len(pages)} pages with Read-After "
        f"({sum(page.read_from == 'replica' for page in pages)} from the replica): "
        f"{len(shown)} showed the named user, {len(older)} at an older version; "
        f"{sum(page.must_show for page in pages)} had to show it, "
        f"{len(absent) - len(deleted)} left it out "
        f"(and {len(deleted)} after its delete was sent)"
    )
    return Check(OWN_WRITES, not older and len(absent) == len(deleted), detail)

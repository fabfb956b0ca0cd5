"""The load's figures as text: per route, the pool, the contended rounds, the invariants."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence

from bench.machine import cpu_model
from local.load.invariants import Check
from local.load.passes import PassResult
from local.load.pool_watch import PoolFigures
from local.load.tally import CLIENT_UPLOAD, Tally
from local.load.workload import S3_ROUTES

# With S3 slowed, a route that does not call S3 may get at most this much slower (its p99).
ISOLATION_FACTOR = 3.0
ISOLATION = f"routes without S3 keep their p99 within {ISOLATION_FACTOR:g}x of the undelayed pass"


def percentile(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile of `values` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


def machine_line() -> str:
    """The CPU, its cores and the load average right now: how busy the machine was."""
    one, five, _ = os.getloadavg()
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, load average {one:.2f} (1 min) {five:.2f} (5 min)"
    )


def describe_pass(result: PassResult, title: str) -> str:
    """Everything one pass measured, and its invariants."""
    options, tally, pool = result.options, result.tally, result.pool
    delays = f"S3 +{options.s3_delay_ms:g} ms per call, database +{options.db_delay_ms:g} ms"
    reader = (
        f", a replica (commits applied {options.replica_lag_ms} ms late) behind its own "
        f"PgBouncer with {options.reader_server_connections}"
        if options.reader_server_connections
        else ""
    )
    lines = [
        f"== {title}: {options.workers} containers, PgBouncer (transaction mode) with "
        f"{options.server_connections} server connections{reader}, {delays} per direction",
        f"containers' init (import lambda_app.handler): median "
        f"{statistics.median(result.init_ms):.0f} ms, max {max(result.init_ms):.0f} ms",
        f"{tally.invocations} invocations in {result.seconds:.1f} s: "
        f"{tally.invocations / result.seconds:.0f} req/s "
        f"(and {tally.requests - tally.invocations} uploads to S3 by the client)",
        "",
        route_table(tally),
        "",
        pool_line("PgBouncer", pool),
        *([pool_line("PgBouncer (replica)", result.reader_pool)] if result.reader_pool else []),
        pages_line(tally, with_reader=result.reader_pool is not None),
        "rounds: "
        + ", ".join(f"{name} {count}" for name, count in sorted(result.evidence.rounds.items())),
    ]
    if tally.base64_bodies:
        lines.append(f"answers with a base64-encoded body: {tally.base64_bodies}")
    lines += ["invariants:", *(_check_line(check) for check in result.checks)]
    return "\n".join(lines)


def pool_line(name: str, pool: PoolFigures) -> str:
    """What one PgBouncer went through: its queue, its transactions, its server connections."""
    return (
        f"{name}: clients waiting at most {pool.most_clients_waiting}, longest wait "
        f"{pool.longest_wait_s * 1000:.0f} ms, {pool.wait_ms_per_transaction:.1f} ms of wait "
        f"per transaction, {pool.transaction_ms:.1f} ms per transaction "
        f"({pool.transactions} transactions), at most {pool.most_server_connections} server "
        f"connections (sv_active + sv_idle, {pool.samples} samples)"
    )


def pages_line(tally: Tally, *, with_reader: bool) -> str:
    """How many list pages each server answered, and the replica's share."""
    pages = tally.pages_from
    total = sum(pages.values())
    counts = ", ".join(f"{source} {count}" for source, count in sorted(pages.items()))
    line = f"list pages: {total} ({counts or 'none'})"
    if with_reader:
        line += f"; the replica answered {pages.get('replica', 0) / max(total, 1):.0%} of them"
    return line


def route_table(tally: Tally) -> str:
    """Per route: count, p50, p99 and the statuses it answered."""
    rows = [f"{'route':<34}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'first ms':>10}  statuses"]
    for name in sorted(tally.latencies):
        values = tally.latencies[name]
        firsts = tally.first_latencies.get(name)
        first = f"{max(firsts):.1f}" if firsts else "-"
        statuses = " ".join(
            f"{status}x{count}" for status, count in sorted(tally.statuses[name].items())
        )
        rows.append(
            f"{name:<34}{len(values):>7}{percentile(values, 50):>9.1f}"
            f"{percentile(values, 99):>9.1f}{first:>10}  {statuses}"
        )
    return "\n".join(rows)


def _check_line(check: Check) -> str:
    return f"  {'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}"


def compare(baseline: PassResult, delayed: PassResult) -> tuple[str, Check | None]:
    """Each route's p99 with the delay over its p99 without; the isolation check if S3 only.

    Warm calls only: a container's first call of a route (imports, connecting) weighs more
    in the p99 of a slowed pass, which has fewer calls. Only an S3 delay makes the check
    meaningful: a slower database slows every route.
    """
    rows = [f"{'route (warm calls)':<34}{'S3':>4}{'p99 ms':>10}{'delayed':>10}{'ratio':>8}"]
    too_slow = []
    warm_before, warm_after = baseline.tally.warm_latencies, delayed.tally.warm_latencies
    for name in sorted(set(warm_before) & set(warm_after)):
        before = percentile(warm_before[name], 99)
        after = percentile(warm_after[name], 99)
        ratio = after / before if before else float("inf")
        calls_s3 = name in S3_ROUTES
        if not calls_s3 and ratio > ISOLATION_FACTOR:
            too_slow.append(f"{name} {ratio:.1f}x")
        rows.append(
            f"{name:<34}{'yes' if calls_s3 else 'no':>4}{before:>10.1f}{after:>10.1f}{ratio:>7.1f}x"
        )
    options = delayed.options
    if not options.s3_delay_ms or options.db_delay_ms:
        return "\n".join(rows), None
    api_routes = set(warm_after) - {CLIENT_UPLOAD}
    detail = ", ".join(too_slow) or f"all {len(api_routes - S3_ROUTES)} held"
    return "\n".join(rows), Check(ISOLATION, not too_slow, detail)

"""A load run: an undelayed baseline before a delayed pass, when a delay is asked; the verdict."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from local.load.passes import LoadOptions, run_pass
from local.load.report import compare, describe_pass, machine_line
from local.load.stack import shared_services


def run_load(options: LoadOptions, *, data_dir: Path, server_url: str | None = None) -> int:
    """Run the passes on an embedded PostgreSQL (or `server_url`'s); 1 if any check failed."""
    print(f"machine: {machine_line()}", flush=True)
    delayed = bool(options.s3_delay_ms or options.db_delay_ms)
    replica = bool(options.reader_server_connections)
    with shared_services(data_dir, server_url, replica=replica) as services:
        baseline = None
        if delayed:
            undelayed = replace(options, s3_delay_ms=0.0, db_delay_ms=0.0)
            baseline = run_pass(services, undelayed, data_dir / "logs" / "baseline")
            print(describe_pass(baseline, "undelayed baseline") + "\n", flush=True)
        result = run_pass(services, options, data_dir / "logs" / "pass")
    print(describe_pass(result, "delayed pass" if delayed else "pass"), flush=True)
    passed = result.passed and (baseline is None or baseline.passed)
    if baseline is not None:
        table, isolation = compare(baseline, result)
        print("\np99 per route, undelayed vs delayed:\n" + table)
        if isolation is not None:
            mark = "PASS" if isolation.passed else "FAIL"
            print(f"  {mark}  {isolation.name}: {isolation.detail}")
            passed = passed and isolation.passed
    print(f"machine after: {machine_line()}")
    return 0 if passed else 1

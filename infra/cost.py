"""``python -m infra.cost``: monthly cost and cost per million requests of both database options.

Every input is in this file, in one place: prices (us-east-1, on-demand, with where each
came from), the measured Lambda durations (bench/results.json), the memory sizes (infra/),
and the assumptions about the workload. Change them and run again; ``--markdown`` prints
the table docs/cost.md carries (``make docs`` writes it there; a test checks that they agree).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.capacity import connection_budget

# Not infra.bundling's: that module starts the CDK's Node.js process, which `make docs` can skip.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
LOADS_RPS = (1, 50, 500)
# The Lambda functions' memory (infra/api.py memory_size=1024) and the API's share of requests.
API_MEMORY_GB = 1.0
# Where the measured durations come from, and the mix of routes (`make load`'s mix, folded
# onto the three routes bench/ times: reads, list pages, writes).
BENCH_RESULTS = PROJECT_ROOT / "bench" / "results.json"
ROUTE_MIX = {"get_user": 0.40, "list_users": 0.25, "create_user": 0.35}


@dataclass(frozen=True)
class Price:
    """A unit price in USD, where it came from, and whether a stored AWS page confirmed it."""

    usd: float
    unit: str
    source: str
    confirmed: bool


VERIFY = "not found in a stored copy of the AWS page; a published us-east-1 list price: verify"
# When the prices below were entered; a team rerunning the model updates it with them.
PRICES_AS_OF = "2026-12-03"
PRICES = {
    "lambda_request": Price(
        0.20 / 1e6, "request", "https://aws.amazon.com/lambda/pricing/ (" + VERIFY + ")", False
    ),
    "lambda_gb_second_arm": Price(
        0.0000133334,
        "GB-second (arm64)",
        "https://aws.amazon.com/lambda/pricing/ (" + VERIFY + ")",
        False,
    ),
    "http_api_request": Price(
        1.00 / 1e6,
        "request (first 300 million a month)",
        "https://aws.amazon.com/api-gateway/pricing/ (" + VERIFY + ")",
        False,
    ),
    "rds_t4g_micro_hour": Price(
        0.016,
        "instance-hour, single-AZ",
        "https://aws.amazon.com/rds/postgresql/pricing/ (" + VERIFY + ")",
        False,
    ),
    "rds_gp3_gb_month": Price(
        0.115,
        "GB-month, single-AZ",
        "https://aws.amazon.com/rds/postgresql/pricing/ (" + VERIFY + ")",
        False,
    ),
    "aurora_acu_hour": Price(
        0.12,
        "ACU-hour (Aurora Standard)",
        "https://aws.amazon.com/rds/aurora/pricing/ (" + VERIFY + "; third-party pages "
        "read here quote the same $0.12)",
        False,
    ),
    "aurora_storage_gb_month": Price(
        0.10,
        "GB-month (Aurora Standard)",
        "https://aws.amazon.com/rds/aurora/pricing/ (" + VERIFY + ")",
        False,
    ),
    "aurora_io_request": Price(
        0.20 / 1e6,
        "I/O request (Aurora Standard)",
        "https://aws.amazon.com/rds/aurora/pricing/ (" + VERIFY + ")",
        False,
    ),
    "proxy_vcpu_hour": Price(
        0.015,
        "vCPU-hour of the instance, 2 vCPUs minimum",
        "infra/DEPLOY.md 'Rough monthly cost'; https://aws.amazon.com/rds/proxy/pricing/ ("
        + VERIFY
        + ")",
        False,
    ),
    "proxy_acu_hour": Price(
        0.015,
        "ACU-hour of Aurora Serverless v2, 8 ACUs minimum",
        "https://aws.amazon.com/rds/proxy/pricing/ (" + VERIFY + ")",
        False,
    ),
    "interface_endpoint_az_hour": Price(
        0.01,
        "endpoint-hour per zone",
        "https://aws.amazon.com/privatelink/pricing/ (" + VERIFY + ")",
        False,
    ),
    "logs_ingested_gb": Price(
        0.50,
        "GB ingested (Standard, first tier)",
        "https://aws.amazon.com/cloudwatch/pricing/ (cited in infra/DEPLOY.md 'Log cost')",
        True,
    ),
    "metric_month": Price(
        0.30,
        "custom metric-month",
        "https://aws.amazon.com/cloudwatch/pricing/ (" + VERIFY + ")",
        False,
    ),
    "alarm_month": Price(
        0.10,
        "standard alarm-month",
        "https://aws.amazon.com/cloudwatch/pricing/ (" + VERIFY + ")",
        False,
    ),
    "s3_list_request": Price(
        0.005 / 1000,
        "LIST/PUT-class request",
        "https://aws.amazon.com/s3/pricing/ (" + VERIFY + ")",
        False,
    ),
    "s3_gb_month": Price(
        0.023, "GB-month (Standard)", "https://aws.amazon.com/s3/pricing/ (" + VERIFY + ")", False
    ),
    "secret_month": Price(
        0.40,
        "secret-month",
        "https://aws.amazon.com/secrets-manager/pricing/ (" + VERIFY + ")",
        False,
    ),
}
# The workload, stated: what the measurements do not give.
LOG_KB_PER_REQUEST = 2.0  # infra/DEPLOY.md "Log cost": request, metric, access and platform lines
S3_CALLS_PER_REQUEST = 0.15  # avatar reads list their key (10%), deletes list versions (5%)
S3_STORED_GB = 1.0
METRICS = 30  # the app's route x status-class series, ColdStart, the outbox's three
ALARMS = {"instance": 11, "aurora": 11}
SECRETS = 2
# The stack's interface endpoints (infra/network.py), each in ENDPOINT_ZONES zones; a test
# checks these counts against the synthesized templates.
INTERFACE_ENDPOINTS = ("Secrets Manager", "Cognito")
ENDPOINT_ZONES = 2
DB_STORAGE_GB = 20
# Database CPU per request (a guess: one or two index lookups); Aurora I/O per request.
DB_CPU_MS_PER_REQUEST = 1.0
AURORA_IO_PER_REQUEST = 0.5
# Keep the database below this CPU share; an ACU is about a quarter of a vCPU (a 2-vCPU,
# 16 GiB class is 8 ACUs of 2 GiB).
TARGET_CPU = 0.6
VCPU_PER_ACU = 0.25
# Instance classes by size: (class, vCPUs, USD per hour single-AZ; VERIFY as above).
INSTANCE_CLASSES = (
    ("t4g.micro", 2, 0.016),
    ("t4g.small", 2, 0.032),
    ("t4g.medium", 2, 0.065),
    ("m7g.large", 2, 0.168),
    ("m7g.xlarge", 4, 0.336),
    ("m7g.2xlarge", 8, 0.672),
)
# Burstable classes sustain only a baseline share of their vCPUs (t4g.micro: 10%).
BURSTABLE_BASELINE = {"t4g.micro": 0.10, "t4g.small": 0.20, "t4g.medium": 0.20}
AURORA_MIN_ACU = 0.5
PROD_MULTI_AZ = 2  # prod: a standby (instance) or a reader (Aurora): two of everything


def measured_duration_ms() -> float:
    """Billed Lambda milliseconds per request: bench's medians at +0.5 ms, rounded up per route."""
    results = json.loads(BENCH_RESULTS.read_text())
    latency = results["latency"]
    total = 0.0
    for route, share in ROUTE_MIX.items():
        measured = latency.get(route, results[route])["app_us"] / 1000
        total += share * math.ceil(measured)
    return total


def concurrency(rps: float, duration_ms: float) -> float:
    return rps * duration_ms / 1000


def instance_class(rps: float, duration_ms: float) -> tuple[str, int, float]:
    """The smallest class with the CPU and the connections the load needs."""
    vcpus_needed = rps * DB_CPU_MS_PER_REQUEST / 1000 / TARGET_CPU
    for name, vcpus, hourly in INSTANCE_CLASSES:
        usable = vcpus * BURSTABLE_BASELINE.get(name, 1.0)
        if usable >= vcpus_needed and connection_budget(name) >= concurrency(rps, duration_ms):
            return name, vcpus, hourly
    return INSTANCE_CLASSES[-1]


def aurora_acus(rps: float) -> float:
    """The writer's ACUs at this load (the reader in tier 1 follows the writer's size)."""
    vcpus_needed = rps * DB_CPU_MS_PER_REQUEST / 1000 / TARGET_CPU
    return max(AURORA_MIN_ACU, math.ceil(vcpus_needed / VCPU_PER_ACU * 2) / 2)


def p(key: str) -> float:
    return PRICES[key].usd


def shared_parts(rps: float, duration_ms: float) -> dict[str, float]:
    """What both options pay alike, per month."""
    requests = rps * SECONDS_PER_MONTH
    return {
        "Lambda requests": requests * p("lambda_request"),
        "Lambda GB-seconds": requests
        * duration_ms
        / 1000
        * API_MEMORY_GB
        * p("lambda_gb_second_arm"),
        "API Gateway (HTTP API)": requests * p("http_api_request"),
        f"VPC endpoints ({', '.join(INTERFACE_ENDPOINTS)}; {ENDPOINT_ZONES} zones)": len(
            INTERFACE_ENDPOINTS
        )
        * ENDPOINT_ZONES
        * HOURS_PER_MONTH
        * p("interface_endpoint_az_hour"),
        "CloudWatch logs": requests * LOG_KB_PER_REQUEST / 1024 / 1024 * p("logs_ingested_gb"),
        "CloudWatch metrics and alarms": METRICS * p("metric_month")
        + ALARMS["instance"] * p("alarm_month"),
        "S3": requests * S3_CALLS_PER_REQUEST * p("s3_list_request")
        + S3_STORED_GB * p("s3_gb_month"),
        "Secrets Manager": SECRETS * p("secret_month"),
    }


def instance_parts(rps: float, duration_ms: float) -> dict[str, float]:
    _, vcpus, hourly = instance_class(rps, duration_ms)
    return {
        "database (RDS instance + standby, gp3)": PROD_MULTI_AZ * hourly * HOURS_PER_MONTH
        + PROD_MULTI_AZ * DB_STORAGE_GB * p("rds_gp3_gb_month"),
        "RDS Proxy": max(vcpus, 2) * HOURS_PER_MONTH * p("proxy_vcpu_hour"),
    }


def aurora_parts(rps: float) -> dict[str, float]:
    acus = aurora_acus(rps)
    requests = rps * SECONDS_PER_MONTH
    return {
        "database (Aurora writer + reader, storage, I/O)": PROD_MULTI_AZ
        * acus
        * HOURS_PER_MONTH
        * p("aurora_acu_hour")
        + DB_STORAGE_GB * p("aurora_storage_gb_month")
        + requests * AURORA_IO_PER_REQUEST * p("aurora_io_request"),
        "RDS Proxy": max(PROD_MULTI_AZ * acus, 8) * HOURS_PER_MONTH * p("proxy_acu_hour"),
    }


def sizing(option: str, rps: float, duration_ms: float) -> str:
    """What the database is sized to at this load."""
    if option == "instance":
        return f"db.{instance_class(rps, duration_ms)[0]}"
    return f"{aurora_acus(rps):g} ACU x 2"


def monthly(option: str, rps: float, duration_ms: float) -> dict[str, float]:
    database = instance_parts(rps, duration_ms) if option == "instance" else aurora_parts(rps)
    return {**shared_parts(rps, duration_ms), **database}


def per_million(total: float, rps: float) -> float:
    return total / (rps * SECONDS_PER_MONTH / 1e6)


def crossover(duration_ms: float, limit_rps: int = 5000) -> int | None:
    """The lowest load (requests per second) at which Aurora costs no more than the instance."""
    for rps in range(1, limit_rps + 1):
        aurora = sum(monthly("aurora", rps, duration_ms).values())
        if aurora <= sum(monthly("instance", rps, duration_ms).values()):
            return rps
    return None


def rows(duration_ms: float) -> list[tuple[str, str, list[str]]]:
    """(option, part, one cell per load): the parts, the sizing, the totals."""
    table: list[tuple[str, str, list[str]]] = []
    for option in ("instance", "aurora"):
        loads = [monthly(option, rps, duration_ms) for rps in LOADS_RPS]
        for part in loads[0]:
            table.append((option, part, [f"${load[part]:,.2f}" for load in loads]))
        table.append((option, "database size", [sizing(option, r, duration_ms) for r in LOADS_RPS]))
        totals = [sum(load.values()) for load in loads]
        table.append((option, "total per month", [f"${total:,.2f}" for total in totals]))
        table.append(
            (
                option,
                "per million requests",
                [f"${per_million(t, r):,.2f}" for t, r in zip(totals, LOADS_RPS, strict=True)],
            )
        )
    return table


def crossover_line(duration_ms: float) -> str:
    found = crossover(duration_ms)
    if found is None:
        return "Crossover: none up to 5,000 requests per second; the instance stays cheaper."
    return f"Crossover: Aurora costs no more than the instance from {found} requests per second."


def report(duration_ms: float) -> str:
    """Plain text: each option's parts at each load, its totals, the crossover."""
    lines = [f"Lambda duration billed per request: {duration_ms:.2f} ms (bench/results.json)"]
    lines.append(f"Prices: us-east-1 on-demand, as of {PRICES_AS_OF} (sources in infra/cost.py)")
    lines.append(
        f"{'option':<9}{'part (USD per month)':<50}" + "".join(f"{r:>10} rps" for r in LOADS_RPS)
    )
    for option, part, cells in rows(duration_ms):
        lines.append(f"{option:<9}{part:<50}" + "".join(f"{cell:>14}" for cell in cells))
    lines.append(crossover_line(duration_ms))
    return "\n".join(lines)


def markdown(duration_ms: float) -> str:
    """The table docs/cost.md carries."""
    lines = [
        f"Lambda duration billed per request: {duration_ms:.2f} ms (bench/results.json). "
        f"Prices: us-east-1 on-demand, as of {PRICES_AS_OF} (sources in `infra/cost.py`).",
        "",
    ]
    lines.append("| option | part | " + " | ".join(f"{r} req/s" for r in LOADS_RPS) + " |")
    lines.append("| --- | --- |" + " ---: |" * len(LOADS_RPS))
    for option, part, cells in rows(duration_ms):
        lines.append(f"| {option} | {part} | " + " | ".join(cells) + " |")
    lines.extend(["", crossover_line(duration_ms)])
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.cost", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print docs/cost.md's table")
    parser.add_argument("--duration-ms", type=float, help="billed ms per request (else bench)")
    args = parser.parse_args(argv)
    duration = args.duration_ms or measured_duration_ms()
    print(markdown(duration) if args.markdown else report(duration))


if __name__ == "__main__":
    main()

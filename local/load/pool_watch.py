"""PgBouncer's view of a load pass, read from its admin console: waits and server connections."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pg8000.native

SAMPLE_INTERVAL_SECONDS = 0.2
MICROSECONDS = 1_000_000


@dataclass(frozen=True)
class PoolFigures:
    """What the pool went through: the worst moments (sampled) and the averages (counted)."""

    samples: int
    most_clients_waiting: int
    longest_wait_s: float
    most_server_connections: int
    transactions: int
    wait_ms_per_transaction: float
    transaction_ms: float


@dataclass(frozen=True)
class _Totals:
    transactions: int
    transaction_us: int
    wait_us: int


class PoolWatch:
    """Samples SHOW POOLS for one database and role while the load runs; SHOW STATS around it."""

    def __init__(
        self, *, port: int, user: str, password: str | None, database: str, role: str
    ) -> None:
        self._login = {"user": user, "password": password, "host": "127.0.0.1", "port": port}
        self._database = database
        self._role = role
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._samples: list[dict[str, Any]] = []
        self._before = _Totals(0, 0, 0)

    def start(self) -> None:
        """Read the counters, then sample the pool until `stop`."""
        self._before = self._totals()
        self._thread.start()

    def stop(self) -> PoolFigures:
        """Stop sampling; return the pass's figures."""
        self._stop.set()
        self._thread.join(timeout=10)
        after = self._totals()
        transactions = after.transactions - self._before.transactions
        per_transaction = 1000 / MICROSECONDS / max(transactions, 1)
        samples = self._samples or [{}]
        return PoolFigures(
            samples=len(self._samples),
            most_clients_waiting=max(int(row.get("cl_waiting", 0)) for row in samples),
            longest_wait_s=max(
                int(row.get("maxwait", 0)) + int(row.get("maxwait_us", 0)) / MICROSECONDS
                for row in samples
            ),
            most_server_connections=max(
                int(row.get("sv_active", 0)) + int(row.get("sv_idle", 0)) for row in samples
            ),
            transactions=transactions,
            wait_ms_per_transaction=(after.wait_us - self._before.wait_us) * per_transaction,
            transaction_ms=(after.transaction_us - self._before.transaction_us) * per_transaction,
        )

    def _console(self) -> pg8000.native.Connection:
        return pg8000.native.Connection(database="pgbouncer", **self._login)

    def _rows(self, console: pg8000.native.Connection, command: str) -> list[dict[str, Any]]:
        # The console speaks the simple query protocol only, which `run` without parameters uses.
        rows = console.run(command)
        names = [column["name"] for column in console.columns or []]
        return [dict(zip(names, row, strict=True)) for row in rows or []]

    def _totals(self) -> _Totals:
        console = self._console()
        try:
            for row in self._rows(console, "SHOW STATS"):
                if row["database"] == self._database:
                    return _Totals(
                        transactions=_integer(row["total_xact_count"]),
                        transaction_us=_integer(row["total_xact_time"]),
                        wait_us=_integer(row["total_wait_time"]),
                    )
            return _Totals(0, 0, 0)
        finally:
            console.close()

    def _sample(self) -> None:
        console = self._console()
        try:
            while not self._stop.wait(SAMPLE_INTERVAL_SECONDS):
                for row in self._rows(console, "SHOW POOLS"):
                    if row["database"] == self._database and row["user"] == self._role:
                        self._samples.append(row)
        finally:
            console.close()


def _integer(value: int | Decimal | str) -> int:
    return int(Decimal(value))

"""Give the measured handlers a core of their own, apart from PostgreSQL and the relay.

On AWS the database and RDS Proxy run on other machines than the function. Sharing cores
with them here can make a handler pay for their work too: while it waits, they run where it
ran and fill its caches with their own. So, on a machine with two or more cores, the bench
runs on the first and the servers it starts on the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class CoreSplit:
    """Which cores run the measured handlers, and which the database server and the relay."""

    measured: frozenset[int]
    servers: frozenset[int]

    def describe(self) -> str:
        """The split as the report and results.json state it."""
        return f"handlers on CPU {_listed(self.measured)}; servers on CPU {_listed(self.servers)}"


def plan() -> CoreSplit | None:
    """Split the cores this process may use, or None where there is one or no affinity API."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return CoreSplit(measured=frozenset(cores[:1]), servers=frozenset(cores[1:]))


def run_on(cores: frozenset[int], pid: int = 0) -> None:
    """Keep process `pid` (0: this one) and the processes it starts from now on to `cores`."""
    os.sched_setaffinity(pid, cores)


def _listed(cores: frozenset[int]) -> str:
    return ",".join(str(core) for core in sorted(cores))

"""The bench's split of cores between the measured handlers and the servers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench import cores

needs_two_cores = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="a split needs two cores and Linux's affinity API",
)


@needs_two_cores
def test_the_handlers_get_one_core_and_the_servers_all_others() -> None:
    split = cores.plan()

    assert split is not None
    assert len(split.measured) == 1
    assert split.measured.isdisjoint(split.servers)
    assert split.measured | split.servers == frozenset(os.sched_getaffinity(0))


@needs_two_cores
def test_a_server_moved_to_its_cores_stays_off_the_measured_one() -> None:
    split = cores.plan()
    assert split is not None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        cores.run_on(split.servers, child.pid)

        assert os.sched_getaffinity(child.pid) == split.servers
    finally:
        child.kill()
        child.wait()

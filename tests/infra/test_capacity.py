"""Capacity: max_connections from the instance class, the proxy's share, the API's concurrency."""

from __future__ import annotations

import pytest

from infra.capacity import (
    GIB,
    MAX_CONNECTIONS_CAP,
    MAX_CONNECTIONS_DIVISOR,
    PROXY_HEADROOM,
    PROXY_MAX_CONNECTIONS_PERCENT,
    USABLE_MEMORY_FRACTION,
    connection_budget,
    estimated_max_connections,
    proxy_connection_pool,
)


def test_max_connections_follows_rds_formula_on_the_usable_memory() -> None:
    # LEAST({DBInstanceClassMemory/9531392}, 5000) with 3/4 of t4g.micro's 1 GiB.
    assert MAX_CONNECTIONS_DIVISOR == 9_531_392
    assert estimated_max_connections("t4g.micro") == int(GIB * USABLE_MEMORY_FRACTION) // (
        MAX_CONNECTIONS_DIVISOR
    )
    assert estimated_max_connections("t4g.micro") == 84
    # The nominal 1 GiB would give 112; DBInstanceClassMemory is always less.
    assert estimated_max_connections("t4g.micro") < GIB // MAX_CONNECTIONS_DIVISOR


def test_max_connections_is_capped_at_5000() -> None:
    assert estimated_max_connections("r7g.2xlarge") == MAX_CONNECTIONS_CAP


def test_default_concurrency_leaves_room_for_direct_connections_and_the_proxy() -> None:
    max_connections = estimated_max_connections("t4g.micro")
    pool = proxy_connection_pool("t4g.micro")
    assert pool == max_connections * PROXY_MAX_CONNECTIONS_PERCENT // 100 == 75
    # Outside the proxy's share: the migration, two rotations, RDS's reserved slots.
    assert max_connections - pool >= 1 + 2 + 3
    assert connection_budget("t4g.micro") == pool - PROXY_HEADROOM == 70


def test_unknown_instance_class_asks_for_its_memory() -> None:
    with pytest.raises(ValueError, match="INSTANCE_MEMORY_GIB"):
        estimated_max_connections("x9.huge")

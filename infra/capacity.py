"""Connection capacity: what the instance class allows, what the proxy and the API may use.

RDS for PostgreSQL sets ``max_connections`` to ``LEAST({DBInstanceClassMemory/9531392}, 5000)``
(infra/DEPLOY.md, "Concurrency and connections", cites it). ``DBInstanceClassMemory`` is the
class's memory less what RDS keeps for the operating system and its own processes, which
AWS does not publish as a number; we count three quarters of the nominal memory, so the
estimate errs low. Every number here is derived from the class, once.
"""

from __future__ import annotations

import math

GIB = 1024**3
MAX_CONNECTIONS_DIVISOR = 9_531_392
MAX_CONNECTIONS_CAP = 5_000
USABLE_MEMORY_FRACTION = 0.75
# Aurora Serverless v2: "Each ACU is a combination of approximately 2 gibibytes (GiB) of
# memory" (DEPLOY.md, "The Aurora option"); its max_connections follows the maximum ACUs.
GIB_PER_ACU = 2
# The proxy may open this share of max_connections; the rest is left for the direct
# connections: the migration function, the two secret rotations, RDS's own reserved
# superuser slots and an operator's psql.
PROXY_MAX_CONNECTIONS_PERCENT = 90
# Proxy connections the API cannot count on: the proxy's own checks and a connection
# being replaced while a new one opens.
PROXY_HEADROOM = 5
# Nominal memory of the instance classes this stack knows (AWS's instance class tables).
INSTANCE_MEMORY_GIB = {
    "t4g.micro": 1,
    "t4g.small": 2,
    "t4g.medium": 4,
    "t4g.large": 8,
    "t4g.xlarge": 16,
    "t4g.2xlarge": 32,
    "m7g.large": 8,
    "m7g.xlarge": 16,
    "m7g.2xlarge": 32,
    "r7g.large": 16,
    "r7g.xlarge": 32,
    "r7g.2xlarge": 64,
}


def instance_memory_bytes(instance_type: str) -> int:
    """Nominal memory of an instance class such as ``t4g.micro``."""
    try:
        return INSTANCE_MEMORY_GIB[instance_type] * GIB
    except KeyError:
        raise ValueError(
            f"unknown dbInstanceType {instance_type!r}: add its memory to "
            f"infra/capacity.py INSTANCE_MEMORY_GIB (known: {sorted(INSTANCE_MEMORY_GIB)})"
        ) from None


def acu_memory_bytes(acus: float) -> int:
    """Memory of an Aurora Serverless v2 instance at `acus` capacity units."""
    return int(acus * GIB_PER_ACU * GIB)


def estimated_max_connections(instance_type: str) -> int:
    """RDS's default max_connections for the class, from the usable share of its memory."""
    return max_connections_for_memory(instance_memory_bytes(instance_type))


def max_connections_for_memory(memory_bytes: int) -> int:
    """The max_connections formula on the usable share of `memory_bytes`."""
    usable = memory_bytes * USABLE_MEMORY_FRACTION
    return min(math.floor(usable / MAX_CONNECTIONS_DIVISOR), MAX_CONNECTIONS_CAP)


def proxy_connection_pool(instance_type: str) -> int:
    """Database connections the proxy may open (MaxConnectionsPercent of max_connections)."""
    return proxy_pool_for_memory(instance_memory_bytes(instance_type))


def proxy_pool_for_memory(memory_bytes: int) -> int:
    """MaxConnectionsPercent of the max_connections that `memory_bytes` allows."""
    return max_connections_for_memory(memory_bytes) * PROXY_MAX_CONNECTIONS_PERCENT // 100


def connection_budget(instance_type: str) -> int:
    """API execution environments that can each hold a database connection at the same time.

    Each execution environment keeps one pooled connection, and a request holds a
    database connection only inside a statement or transaction, so this many concurrent
    requests never wait at the proxy for a connection.
    """
    return connection_budget_for_memory(instance_memory_bytes(instance_type))


def connection_budget_for_memory(memory_bytes: int) -> int:
    """The connection budget of a server with `memory_bytes` (an instance class, or ACUs)."""
    return max(proxy_pool_for_memory(memory_bytes) - PROXY_HEADROOM, 1)

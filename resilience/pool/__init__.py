"""Resource pools with exact accounting: ``ResourcePool`` (threads) and ``AsyncResourcePool``
(asyncio), two thin drivers of one decision core."""

from resilience.pool.asynchronous import AsyncLease, AsyncResourcePool
from resilience.pool.base import DEFAULT
from resilience.pool.config import PoolConfig
from resilience.pool.sync import Lease, ResourcePool

__all__ = ["DEFAULT", "AsyncLease", "AsyncResourcePool", "Lease", "PoolConfig", "ResourcePool"]

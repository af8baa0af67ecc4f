"""Bulkheads: at most ``max_concurrent`` calls at once, with exact accounting. ``Bulkhead``
(threads) and ``AsyncBulkhead`` (asyncio) are two thin drivers of one decision core."""

from resilience.bulkhead.asynchronous import AsyncBulkhead, AsyncBulkheadPermit
from resilience.bulkhead.base import DEFAULT
from resilience.bulkhead.config import BulkheadConfig
from resilience.bulkhead.sync import Bulkhead, BulkheadPermit

__all__ = [
    "DEFAULT",
    "AsyncBulkhead",
    "AsyncBulkheadPermit",
    "Bulkhead",
    "BulkheadConfig",
    "BulkheadPermit",
]

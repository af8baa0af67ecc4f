"""The protection chain: ``Pipeline`` composes a rate limiter, a bulkhead, a retry policy, a
breaker and a pool lease around an operation (see ``pipeline.py`` for the order)."""

from resilience.chain.pipeline import DEFAULT_ORDER, Pipeline

__all__ = ["DEFAULT_ORDER", "Pipeline"]

"""Retry on tenacity: ``RetryPolicy`` and its configuration."""

from resilience.retry.config import RetryConfig
from resilience.retry.policy import RetryPolicy

__all__ = ["RetryConfig", "RetryPolicy"]

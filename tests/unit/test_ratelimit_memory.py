"""A keyed limiter's memory is bounded by the keys active recently, not by every key it has seen."""

from __future__ import annotations

import tracemalloc

import pytest

from properties.harness.frozen import FrozenTime
from resilience.ratelimit import KeyedLimiter, Rate, TokenBucket

KEYS = 2_000_000
EARLY = 200_000  # the baseline: well past the point where eviction keeps pace with arrivals
BATCH = 10  # keys per step of frozen time; time moves BATCH us per step (1 us per key on average)
# A key used once (1 of 2 tokens, one back every 5 ms) is fresh again 5 ms later; 5 ms is 5,000
# keys at this pace, and eviction lags by at most a batch or so.
ACTIVE = 5_000


@pytest.mark.slow
def test_two_million_distinct_keys_use_bounded_memory() -> None:
    """2,000,000 distinct keys, one request each, 1 us apart on average: live keys stay about
    the 5,000 of the last 5 ms, and traced memory after 2M keys (current and peak) is within a
    small factor of what it was after the first 200k."""
    with FrozenTime() as frozen:
        keyed = KeyedLimiter(lambda: TokenBucket(capacity=2, refill_rate=Rate(2, per=0.01)))
        acquire = keyed.try_acquire
        most_keys = 0
        tracemalloc.start()
        try:
            for base in range(0, KEYS, BATCH):
                for key in range(base, base + BATCH):
                    acquire(key)
                frozen.advance_us(BATCH)
                live = len(keyed)
                if live > most_keys:
                    most_keys = live
                if base + BATCH == EARLY:
                    early_current, early_peak = tracemalloc.get_traced_memory()
                    early_keys = live
                    tracemalloc.reset_peak()
            late_current, late_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        metrics = keyed.metrics()

    print(
        f"\nafter {EARLY:,} keys: current {early_current:,} B, peak {early_peak:,} B, "
        f"live keys {early_keys:,}\n"
        f"after {KEYS:,} keys: current {late_current:,} B, peak since then {late_peak:,} B, "
        f"live keys {metrics['keys']:,}, most live keys ever {most_keys:,}, "
        f"evicted {metrics['evicted']:,}"
    )
    assert metrics["admitted"] == KEYS
    assert metrics["rejected"] == 0
    assert metrics["keys"] + metrics["evicted"] == KEYS
    assert ACTIVE <= most_keys <= ACTIVE + 2 * BATCH
    assert early_keys <= ACTIVE + 2 * BATCH
    assert metrics["keys"] <= ACTIVE + 2 * BATCH
    # Ten times the keys, the same memory: no per-key residue survives eviction.
    assert late_current <= 1.5 * early_current
    assert late_peak <= 1.5 * early_peak
    assert late_current < 5_000_000  # ~5,000 live buckets, not 2,000,000

"""A limiter's memory is bounded by what is live now: a keyed limiter's by the keys active
recently, not by every key it has seen; a sliding log's by its live entries, not by every
admission it has logged."""

from __future__ import annotations

import tracemalloc

import pytest

from properties.harness.frozen import FrozenTime
from resilience.ratelimit import KeyedLimiter, Rate, SlidingWindowLog, TokenBucket

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


class SteppedClock:
    """A clock that reads what it is set to (no freezegun: the loop below stays fast)."""

    def __init__(self) -> None:
        self.now_ns = 0

    def monotonic_ns(self) -> int:
        return self.now_ns

    def monotonic(self) -> float:
        return self.now_ns / 10**9

    def sleep(self, seconds: float) -> None:
        raise AssertionError("nothing here waits")


LOG_ADMISSIONS = 20_000
LOG_EARLY = 2_000


def test_a_sliding_log_keeps_memory_for_its_live_entries_only() -> None:
    """20,000 admissions, each at its own instant, 10 live at a time (limit 10 per 1 s, one every
    100 ms): traced memory after 20,000 is what it was after 2,000. Logging every admission
    instead would hold about 1.5 MB (two ints and two list slots per entry)."""
    clock = SteppedClock()
    log = SlidingWindowLog(10, 1, clock=clock)
    acquire = log.try_acquire
    step = 10**8
    tracemalloc.start()
    try:
        for i in range(LOG_ADMISSIONS):
            assert acquire()
            clock.now_ns += step
            if i + 1 == LOG_EARLY:
                early_current, _ = tracemalloc.get_traced_memory()
        late_current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert log.metrics()["admitted"] == LOG_ADMISSIONS
    assert log.status()["entries"] == 9  # the oldest of the last 10 aged out at this step
    assert late_current - early_current < 50_000

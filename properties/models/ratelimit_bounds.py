"""The safety bound each algorithm promises, checked over a key's whole admission history.

``history`` is every admission of one key, ``(instant_ns, cost)``, in order. The bounds are about
the worst window, and the worst windows end at an admission: ``violation(spec, history)`` checks
every window that ends at the newest admission, so calling it after each admission checks every
window the history contains (the history only grows; an old window never changes). Written from
the spec, independent of the models and the implementation.
"""

from __future__ import annotations

from fractions import Fraction

from properties.models.ratelimit import LimitSpec

__all__ = ["violation"]


def violation(spec: LimitSpec, history: list[tuple[int, int]]) -> str | None:
    """A description of the broken bound, or None when every window ending now is within it."""
    if not history:
        return None
    end, _ = history[-1]
    if spec.algorithm in ("token_bucket", "gcra"):
        return _bucket(spec, history)
    assert spec.window_ns is not None
    w, n = spec.window_ns, spec.limit
    rolling = sum(cost for at, cost in history if end - w < at <= end)
    if spec.algorithm == "sliding_log" and rolling > n:
        return f"{rolling} admitted in the window ({end - w}, {end}] > limit {n}"
    if spec.algorithm == "fixed_window":
        start = end // w * w
        aligned = sum(cost for at, cost in history if start <= at)
        if aligned > n:
            return f"{aligned} admitted in the aligned window [{start}, {start + w}) > limit {n}"
    if spec.algorithm == "sliding_counter":
        if rolling > 2 * n:
            return f"{rolling} admitted in the window ({end - w}, {end}] > 2 x limit {n}"
        start = end // w * w
        current = sum(cost for at, cost in history if start <= at)
        previous = sum(cost for at, cost in history if start - w <= at < start)
        estimate = Fraction(previous * (w - (end - start)), w) + current
        if estimate > n:
            return f"weighted estimate {estimate} at {end} > limit {n}"
    return None


def _bucket(spec: LimitSpec, history: list[tuple[int, int]]) -> str | None:
    """Admitted cost in any [t1, t2] is at most capacity + rate * (t2 - t1)."""
    assert spec.rate is not None
    end, _ = history[-1]
    total = 0
    for at, cost in reversed(history):
        total += cost
        allowed = spec.limit + spec.rate * (end - at)
        if total > allowed:
            return f"{total} admitted in [{at}, {end}] > capacity + rate x span = {allowed}"
    return None

"""The token bucket and the keyed limiter, in parallel: ``try_acquire`` and ``check`` from many
threads, with time passing between and during them.

The model is ``TokenBucketModel`` (the sequential machine's), per key: the state is the frozen
instant plus, per key touched so far, its tokens and when they were last brought up to date. A
call answers what the model decides at its instant: admitted or not, what remains, and the
``retry_after_ns``. Keys are independent, so a keyed history is checked key by key when no time
step overlaps another call (see ``checker``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from properties.harness.frozen import NS_PER_US, FrozenClock, FrozenTime
from properties.models.ratelimit import LimitSpec, TokenBucketModel, Verdict
from properties.parallel.checker import Deterministic
from properties.parallel.harness import ADVANCE, Actor
from properties.parallel.history import Op
from resilience import KeyedLimiter, TokenBucket

__all__ = ["KEYED", "TOKEN_BUCKET", "BucketCase", "LimiterComponent", "LimiterSpec"]

#: Per key: (tokens, when they were last brought up to date); the whole state: (now, keys).
Keys = tuple[tuple[Hashable, Fraction, "int | None"], ...]
State = tuple[int, Keys]


@dataclass(frozen=True)
class BucketCase:
    capacity: int
    period_us: int  # one token comes back every period_us

    @property
    def spec(self) -> LimitSpec:
        return LimitSpec("token_bucket", self.capacity, Fraction(1, self.period_us * NS_PER_US))


class LimiterSpec(Deterministic[State]):
    """Token buckets per key, each full until first used; time starts at 0 (a bucket's answers
    depend only on the time between its decisions)."""

    def __init__(self, case: BucketCase) -> None:
        self.case = case

    def initial(self) -> State:
        return (0, ())

    def apply(self, state: State, op: Op) -> tuple[State, object]:
        now, keys = state
        if op.name == ADVANCE:
            return (now + int(op.args[0]) * NS_PER_US, keys), None  # type: ignore[call-overload]
        key, cost = op.args
        assert isinstance(cost, int)
        model = TokenBucketModel(self.case.spec)
        found = next((entry for entry in keys if entry[0] == key), None)
        if found is not None:
            model.tokens, model.at = found[1], found[2]
        verdict = model.decide(now, cost, commit=op.name == "try_acquire")
        if op.name == "try_acquire":
            rest = tuple(entry for entry in keys if entry[0] != key)
            keys = tuple(sorted((*rest, (key, model.tokens, model.at)), key=repr))
        return (now, keys), tuple(verdict)

    def partition(self, op: Op) -> Hashable | None:
        return None if op.name == ADVANCE else op.args[0]


def describe(state: State) -> str:
    now, keys = state
    shown = ", ".join(f"{key!r}: {tokens} tokens (as of {at})" for key, tokens, at in keys)
    return f"t={now} ns; {shown or 'every key full'}"


class _Driver:
    def __init__(self, take: Callable[[str, object, int], Any]) -> None:
        self.take = take

    def perform(self, actor: Actor, step: Op) -> None:
        key, cost = step.args
        assert isinstance(cost, int)

        def run() -> object:
            decision = self.take(step.name, key, cost)
            return Verdict(decision.admitted, decision.remaining, decision.retry_after_ns)[:]

        actor.record(step, run)

    def close(self, actors: Sequence[Actor]) -> None:
        pass


class LimiterComponent:
    """``keys`` 1: a ``TokenBucket`` (the key is ignored); more: a ``KeyedLimiter`` of them."""

    def __init__(
        self,
        name: str,
        keys: int,
        bucket: type[TokenBucket] = TokenBucket,
        keyed: type[KeyedLimiter[Any]] = KeyedLimiter,
    ) -> None:
        self.name = name
        self.keys = keys
        self.bucket = bucket
        self.keyed = keyed

    def with_classes(
        self, bucket: type[TokenBucket] | None = None, keyed: type[KeyedLimiter[Any]] | None = None
    ) -> LimiterComponent:
        """The same component over a variant (a planted bug)."""
        return LimiterComponent(self.name, self.keys, bucket or self.bucket, keyed or self.keyed)

    def spec(self, case: BucketCase) -> LimiterSpec:
        return LimiterSpec(case)

    def cases(self) -> st.SearchStrategy[BucketCase]:
        return st.builds(
            BucketCase,
            capacity=st.integers(1, 3),
            period_us=st.sampled_from([1, 1_000, 1_000_000]),
        )

    def steps(self, case: BucketCase) -> st.SearchStrategy[Op]:
        return self._steps(case, time=True)

    def _steps(self, case: BucketCase, time: bool) -> st.SearchStrategy[Op]:
        keys = st.sampled_from(range(self.keys))
        cost = st.integers(1, case.capacity)
        take = st.builds(lambda k, c: Op("try_acquire", (k, c)), keys, cost)
        look = st.builds(lambda k, c: Op("check", (k, c)), keys, cost)
        wait = st.sampled_from([case.period_us // 2, case.period_us, case.period_us * 2])
        advance = st.builds(lambda us: Op(ADVANCE, (us,)), wait.filter(bool))
        return st.one_of(take, take, look, advance) if time else st.one_of(take, take, look)

    def branch_steps(self, case: BucketCase) -> st.SearchStrategy[Op]:
        """The keyed limiter's branches leave time alone (it moves in the prefix), so their
        histories split by key; the single bucket's branches race time as well."""
        return self._steps(case, time=self.keys == 1)

    def build(self, case: BucketCase, frozen: FrozenTime) -> _Driver:
        clock = FrozenClock(frozen)
        rate = Fraction(1_000_000, case.period_us)  # tokens per second

        def bucket() -> TokenBucket:
            return self.bucket(case.capacity, rate, clock=clock)

        if self.keys == 1:
            single = bucket()

            def take(name: str, key: object, cost: int) -> Any:
                return getattr(single, name)(cost)

            return _Driver(take)
        limiter = self.keyed(bucket)

        def take_keyed(name: str, key: object, cost: int) -> Any:
            return getattr(limiter, name)(key, cost)

        return _Driver(take_keyed)

    def expire_us(self, case: BucketCase) -> int:
        return case.period_us * case.capacity  # nothing here waits; any step would do

    def describe(self, state: State) -> str:
        return describe(state)


TOKEN_BUCKET = LimiterComponent("token bucket", keys=1)
KEYED = LimiterComponent("keyed limiter", keys=3)

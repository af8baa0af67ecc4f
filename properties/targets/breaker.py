"""Breaker targets: a uniform driver over our ``CircuitBreaker`` (or a variant of it) and over the
unfixed ``circuitbreaker.CircuitBreaker``, so the same ``BreakerMachine`` checks each.

A driver runs real calls through every entry point a user has: the decorator, ``call()``, ``with``,
``async def`` (decorated and ``call_async``), and *held* calls that are admitted now and finish
later (a decorated generator suspended at ``yield``, a decorated coroutine suspended on a ``Gate``,
a ``breaker.permit()`` entered now and exited later, in any order).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from typing import Any

import circuitbreaker
from hypothesis import strategies as st

import resilience
from properties.harness.coroutines import Gate, run_to_completion
from properties.models.breaker import NS, Outcome
from properties.strategies import BreakerCase, breaker_cases

__all__ = [
    "BASE_PACKAGE",
    "RESILIENCE",
    "Benign",
    "Boom",
    "BreakerTarget",
    "CallResult",
    "Cancelled",
    "Held",
    "OtherBoom",
    "resilience_target",
]

SYNC_FORMS = ("decorator", "call", "with")
ASYNC_FORMS = ("async_decorator", "call_async")
RESULT = object()  # what every successful protected call returns


class Boom(Exception):
    """Counted as a failure by every expected_exception spelling."""


class OtherBoom(Exception):
    """The second class of the tuple spelling (never raised: it only widens the tuple)."""


class Benign(Exception):
    """Not a failure: an ignored exception, which propagates and changes nothing."""


class Cancelled(BaseException):
    """Stands for cancellation/GeneratorExit: a BaseException, never a failure."""


def exception_for(outcome: str) -> BaseException | None:
    return {
        Outcome.SUCCESS: None,
        Outcome.FAILURE: Boom(),
        Outcome.IGNORED: Benign(),
        Outcome.CANCELLED: Cancelled(),
    }[outcome]


def _is_boom(exc_type: type[BaseException], _exc: BaseException) -> bool:
    return issubclass(exc_type, Boom)


EXPECTED = {"class": Boom, "tuple": (Boom, OtherBoom), "predicate": _is_boom}


def recovery_timeout(case: BreakerCase) -> object:
    ns = case.spec.recovery_timeout_ns
    return {
        "float": lambda: ns / NS,
        "fraction": lambda: Fraction(ns, NS),
        "timedelta": lambda: timedelta(microseconds=ns // 1_000),
        "int": lambda: ns // NS,
    }[case.timeout_form]()


@dataclass(frozen=True)
class CallResult:
    """What a call did: ``kind`` is "returned", "raised" or "rejected"."""

    kind: str
    value: Any = None
    retry_after: float | None = None


@dataclass
class Held:
    """A call admitted and not yet finished."""

    form: str
    handle: Any  # the suspended generator or coroutine
    epoch: int  # the model's epoch that admitted it
    label: str = field(default="")

    def __repr__(self) -> str:
        return f"Held({self.form}, epoch={self.epoch}{self.label})"


def _finish(step: Callable[[], Any]) -> CallResult:
    """Resume a held call to its end."""
    try:
        step()
    except StopIteration as stop:
        return CallResult("returned", stop.value)
    except BaseException as exc:  # the call's own exception, or a wrong rejection
        return CallResult("raised", exc)
    return CallResult("raised", RuntimeError("held call yielded again instead of finishing"))


class Driver:
    """One breaker under test, driven through every supported form."""

    rejection: type[BaseException] = resilience.CircuitOpenError

    def __init__(self, breaker: Any) -> None:
        self.breaker = breaker

        def plain(exc: BaseException | None) -> object:
            if exc is not None:
                raise exc
            return RESULT

        async def aplain(exc: BaseException | None) -> object:
            return plain(exc)

        def held_generator() -> Generator[str, BaseException | None, object]:
            exc = yield "admitted"
            return plain(exc)

        async def held_coroutine(gate: Gate) -> object:
            return plain(await gate)

        self.plain, self.aplain = plain, aplain
        self.decorated = breaker(plain)
        self.adecorated = breaker(aplain)
        self.held_generator = breaker(held_generator)
        self.held_coroutine = breaker(held_coroutine)

    def _rejection(self, exc: BaseException) -> CallResult:
        return CallResult("rejected", exc, getattr(exc, "retry_after", None))

    def call(self, form: str, exc: BaseException | None) -> CallResult:
        run: Callable[[], object] = {
            "decorator": lambda: self.decorated(exc),
            "call": lambda: self.breaker.call(self.plain, exc),
            "with": lambda: self._with(exc),
            "async_decorator": lambda: run_to_completion(self.adecorated(exc)),
            "call_async": lambda: run_to_completion(self.breaker.call_async(self.aplain, exc)),
        }[form]
        try:
            return CallResult("returned", run())
        except self.rejection as rejected:
            return self._rejection(rejected)
        except BaseException as raised:
            return CallResult("raised", raised)

    def _with(self, exc: BaseException | None) -> object:
        with self.breaker:
            return self.plain(exc)

    def start(self, form: str) -> Any:
        """Start a held call: returns its handle once admitted, or a rejection ``CallResult``."""
        try:
            if form == "permit":
                return self.breaker.permit().__enter__()
            if form == "generator":
                gen = self.held_generator()
                next(gen)
                return gen
            coro = self.held_coroutine(Gate())
            coro.send(None)
            return coro
        except self.rejection as rejected:
            return self._rejection(rejected)

    def finish(self, held: Held, exc: BaseException | None) -> CallResult:
        if held.form == "permit":
            held.handle.__exit__(type(exc) if exc else None, exc, None)
            return CallResult("raised", exc) if exc else CallResult("returned", RESULT)
        return _finish(lambda: held.handle.send(exc))

    def abandon(self, held: Held) -> None:
        if held.form == "permit":
            held.handle.__exit__(GeneratorExit, GeneratorExit(), None)
        else:
            held.handle.close()

    # Observations. Missing capabilities return None and are not compared.
    def state(self) -> str:
        return str(self.breaker.state.value)

    def failure_count(self) -> int:
        return int(self.breaker.failure_count)

    def retry_after(self) -> float:
        return float(self.breaker.retry_after)

    def status(self) -> dict[str, Any] | None:
        return dict(self.breaker.status())

    def metrics(self) -> dict[str, int] | None:
        return dict(self.breaker.metrics())

    def events(self) -> list[tuple[object, ...]] | None:
        return None

    def force_open(self) -> None:
        self.breaker.force_open()

    def reset(self) -> None:
        self.breaker.reset()


class ListeningDriver(Driver):
    """Subscribes to the breaker's events and projects them onto the model's tuples."""

    def __init__(self, breaker: Any) -> None:
        super().__init__(breaker)
        self.received: list[resilience.Event] = []
        breaker.subscribe(self.received.append)

    def events(self) -> list[tuple[object, ...]]:
        projected: list[tuple[object, ...]] = []
        for e in self.received:
            assert e.source == self.breaker.name, f"event from {e.source!r}: {e!r}"
            match e:
                case resilience.StateChanged():
                    projected.append(("StateChanged", e.at_ns, e.old, e.new, e.reason))
                case resilience.CallRejected():
                    projected.append(("CallRejected", e.at_ns, e.state, e.retry_after))
                case resilience.CallSucceeded():
                    projected.append(("CallSucceeded", e.at_ns, e.late))
                case resilience.CallFailed():
                    projected.append(("CallFailed", e.at_ns, e.error, e.late))
                case resilience.CallIgnored():
                    projected.append(("CallIgnored", e.at_ns, e.error, e.late))
                case _:
                    projected.append(("unknown event", e))
        return projected


@dataclass(frozen=True)
class BreakerTarget:
    """An implementation the machine can check, and what it supports."""

    name: str
    build: Callable[[BreakerCase, str], Driver]
    cases: st.SearchStrategy[BreakerCase]
    sync_forms: tuple[str, ...] = SYNC_FORMS
    async_forms: tuple[str, ...] = ASYNC_FORMS
    held_forms: tuple[str, ...] = ("generator", "coroutine", "permit")
    capabilities: frozenset[str] = frozenset(
        {"force_open", "status", "metrics", "events", "rate_policy", "half_open_limits"}
    )

    def __repr__(self) -> str:
        return f"BreakerTarget({self.name})"


def resilience_target(
    name: str, breaker_class: type[resilience.CircuitBreaker] = resilience.CircuitBreaker
) -> BreakerTarget:
    """Our breaker, or a subclass of it (a planted variant), as a target."""

    def build(case: BreakerCase, breaker_name: str) -> Driver:
        spec = case.spec
        kwargs: dict[str, Any] = {
            "recovery_timeout": recovery_timeout(case),
            "expected_exception": EXPECTED[case.expected_form],
            "half_open_max_calls": spec.half_open_max_calls,
            "success_threshold": spec.success_threshold,
        }
        if spec.rate is None:
            kwargs["failure_threshold"] = spec.failure_threshold
        else:
            # Spelled as a user would: a float such as 0.1 where one exists, else a Fraction.
            rate: object = spec.rate
            if case.timeout_form == "float" and Fraction(repr(float(spec.rate))) == spec.rate:
                rate = float(spec.rate)
            kwargs.update(
                failure_rate_threshold=rate,
                window_size=spec.window_size,
                minimum_calls=spec.minimum_calls,
            )
        breaker = breaker_class(name=breaker_name, **kwargs)
        return ListeningDriver(breaker) if case.listen else Driver(breaker)

    return BreakerTarget(name=name, build=build, cases=breaker_cases())


RESILIENCE = resilience_target("resilience.CircuitBreaker")


class BaseDriver(Driver):
    """The unfixed base package. It has no force_open, metrics, events or status, and its
    generator driver does not forward ``send`` (only held coroutines work)."""

    rejection = circuitbreaker.CircuitBreakerError

    def state(self) -> str:
        return str(self.breaker.state)

    def retry_after(self) -> float:
        # The base package's nearest notion: seconds left while open, else 0.
        return float(self.breaker.open_remaining) if self.breaker.state == "open" else 0.0

    def status(self) -> None:
        return None

    def metrics(self) -> None:
        return None


def _build_base(case: BreakerCase, breaker_name: str) -> Driver:
    timeout = recovery_timeout(case)
    if isinstance(timeout, timedelta):
        timeout = timeout.total_seconds()
    breaker = circuitbreaker.CircuitBreaker(
        failure_threshold=case.spec.failure_threshold,
        recovery_timeout=float(timeout),  # type: ignore[arg-type]
        expected_exception=EXPECTED[case.expected_form],
        name=breaker_name,
    )
    return BaseDriver(breaker)


BASE_PACKAGE = BreakerTarget(
    name="circuitbreaker.CircuitBreaker (unfixed)",
    build=_build_base,
    cases=breaker_cases(rate_policy=False, half_open_limits=False),
    held_forms=("coroutine",),
    capabilities=frozenset(),
)

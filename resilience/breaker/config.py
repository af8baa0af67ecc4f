"""The breaker's validated, immutable configuration.

``None`` for a parameter means "use the class default" (the ``FAILURE_THRESHOLD``-style attributes,
looked up through the whole MRO, so a grandchild class keeps its parent's defaults). Any other value
is validated as given: 0 is never silently replaced by a default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from resilience.breaker.policy import ConsecutiveFailures, FailurePolicy, FailureRate
from resilience.clock import NS_PER_SECOND, Clock, SystemClock
from resilience.errors import ConfigError
from resilience.validation import duration_ns, int_at_least, unit_fraction

__all__ = ["BreakerConfig", "FailurePredicate"]

#: ``predicate(exc_type, exc) -> bool``: True when the exception counts as a failure.
FailurePredicate = Callable[[type[BaseException], BaseException], bool]


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Everything that decides a breaker's behaviour, checked once at construction."""

    failure_threshold: int | None  # None when the failure-rate policy is used
    recovery_timeout_ns: int
    half_open_max_calls: int
    success_threshold: int
    expected_exception: object  # as given: a class, a tuple of classes, or a predicate
    failure_rate_threshold: Fraction | None
    window_size: int | None
    minimum_calls: int | None
    fallback_function: Callable[..., Any] | None
    name: str | None
    clock: Clock

    @property
    def recovery_timeout(self) -> float:
        return self.recovery_timeout_ns / NS_PER_SECOND

    def new_policy(self) -> FailurePolicy:
        if self.failure_rate_threshold is None:
            assert self.failure_threshold is not None
            return ConsecutiveFailures(self.failure_threshold)
        assert self.window_size is not None
        assert self.minimum_calls is not None
        return FailureRate(self.failure_rate_threshold, self.window_size, self.minimum_calls)

    def failure_predicate(self) -> FailurePredicate:
        """The classifier for ``expected_exception`` (already validated)."""
        spec = self.expected_exception
        if isinstance(spec, type | tuple):
            return lambda exc_type, _exc: issubclass(exc_type, spec)
        return spec  # type: ignore[return-value]  # a validated predicate

    @classmethod
    def resolve(cls, owner: type, **given: Any) -> BreakerConfig:
        """Validate ``given`` (None = the class default of ``owner``) into a config."""

        def pick(param: str, attr: str) -> tuple[str, Any]:
            value = given.get(param)
            if value is not None:
                return param, value
            return attr, _class_default(owner, attr)

        # Validated whichever policy is chosen: a bad class default is a bug wherever it sits.
        default_window = int_at_least("WINDOW_SIZE", _class_default(owner, "WINDOW_SIZE"), 1)
        rate_given = given.get("failure_rate_threshold")
        if rate_given is None:
            for param in ("window_size", "minimum_calls"):
                if given.get(param) is not None:
                    raise ConfigError(
                        param, given[param], "only applies together with failure_rate_threshold"
                    )
            field, value = pick("failure_threshold", "FAILURE_THRESHOLD")
            failure_threshold: int | None = int_at_least(field, value, 1)
            rate = window_size = minimum_calls = None
        else:
            if given.get("failure_threshold") is not None:
                raise ConfigError(
                    "failure_threshold",
                    given["failure_threshold"],
                    "cannot be combined with failure_rate_threshold: choose one failure policy",
                )
            failure_threshold = None
            rate = unit_fraction("failure_rate_threshold", rate_given)
            window_size = default_window
            if given.get("window_size") is not None:
                window_size = int_at_least("window_size", given["window_size"], 1)
            if given.get("minimum_calls") is None:
                minimum_calls = window_size
            else:
                minimum_calls = int_at_least("minimum_calls", given["minimum_calls"], 1)
                if minimum_calls > window_size:
                    raise ConfigError(
                        "minimum_calls",
                        minimum_calls,
                        f"must be <= window_size ({window_size}), or the policy could never trip",
                    )

        timeout_ns = duration_ns(*pick("recovery_timeout", "RECOVERY_TIMEOUT"))
        half_open = int_at_least(*pick("half_open_max_calls", "HALF_OPEN_MAX_CALLS"), 1)
        successes = int_at_least(*pick("success_threshold", "SUCCESS_THRESHOLD"), 1)
        expected = _expected_exception(*pick("expected_exception", "EXPECTED_EXCEPTION"))

        fallback = given.get("fallback_function")
        fallback_field = "fallback_function"
        if fallback is None:
            fallback_field = "FALLBACK_FUNCTION"
            fallback = _class_default(owner, fallback_field)
        if fallback is not None and not callable(fallback):
            raise ConfigError(fallback_field, fallback, "must be callable or None")

        name = given.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError("name", name, "must be a non-empty string or None")

        clock = given.get("clock")
        if clock is None:
            clock = SystemClock()
        elif isinstance(clock, type) or not callable(getattr(clock, "monotonic_ns", None)):
            raise ConfigError("clock", clock, "must provide monotonic_ns() (see resilience.Clock)")

        return cls(
            failure_threshold=failure_threshold,
            recovery_timeout_ns=timeout_ns,
            half_open_max_calls=half_open,
            success_threshold=successes,
            expected_exception=expected,
            failure_rate_threshold=rate,
            window_size=window_size,
            minimum_calls=minimum_calls,
            fallback_function=fallback,
            name=name,
            clock=clock,
        )


def _class_default(owner: type, attr: str) -> Any:
    """``owner.attr`` through the MRO without binding functions into methods (the base package
    reads ``type(self).__dict__`` only, and binds a plain-function ``FALLBACK_FUNCTION``)."""
    value = inspect.getattr_static(owner, attr, None)
    if isinstance(value, staticmethod):
        return value.__func__
    return value


def _is_exception_class(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Exception)


def _expected_exception(field: str, spec: object) -> object:
    rule = (
        "must be an Exception subclass, a non-empty tuple of them, "
        "or a predicate (exc_type, exc) -> bool"
    )
    if _is_exception_class(spec):
        return spec
    if isinstance(spec, tuple | list | set | frozenset):
        classes = tuple(spec)
        if classes and all(_is_exception_class(c) for c in classes):
            return classes
        raise ConfigError(field, spec, rule)
    if callable(spec) and not isinstance(spec, type):
        try:
            inspect.signature(spec).bind(Exception, Exception())
        except TypeError:
            raise ConfigError(field, spec, "a predicate must accept (exc_type, exc)") from None
        except ValueError:
            pass  # no introspectable signature (some builtins): trust it
        return spec
    raise ConfigError(field, spec, rule)

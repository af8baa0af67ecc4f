"""Step traces, and regression programs made from failing runs.

Every machine derives from ``TracedMachine``; each example it runs records its steps: the rule
(initialize rules too), its arguments (values drawn inside the rule through ``st.data()``
included, each with its label), the names of the values it returned into Bundles, and how far the
frozen clock moved. A value passed from a Bundle is recorded by the name Hypothesis gave it
(``held_0``), as in Hypothesis' own printout. When a run fails, ``program_from_failure`` turns the
trace of the final, shrunk example into a *regression program*: plain JSON that
``properties.harness.replay`` replays without the Hypothesis engine, so it survives edits to the
machine class and Hypothesis upgrades (which orphan the example database and
``@reproduce_failure``).

How it hooks into Hypothesis (``hypothesis.stateful`` as of 6.170). The ``@rule`` and
``@initialize`` decorators store a ``Rule`` dataclass on the decorated function under a marker
attribute, and the engine calls ``rule.function(machine, **arguments)``.
``TracedMachine.__init_subclass__`` replaces, once per class, each stored ``Rule`` of the class
(and of its bases) with ``dataclasses.replace(rule, function=traced)``, ``traced`` being a thin
recorder around the original function (same name, so Hypothesis' printout and statistics are
unchanged; no ``except`` clause, so Hypothesis' explain phase never lists its lines). Nothing else
in the engine is touched. Bundle references are resolved by the engine through
``machine.names_to_values[name]`` just before the call; each machine's dict is swapped for one
that notes which names were looked up and which names results were given. If a Hypothesis
upgrade changes either, the trace is marked broken (never silently wrong), ``program_from_failure``
refuses it, and ``tests/unit/test_trace_replay.py`` fails. Which example a failure came from, and
whether a rule or an invariant raised it, is read from the exception's traceback.

Cost: about 1.5 us per step (a machine step costs hundreds): arguments are kept as they are and
only encoded to JSON when a program is made. ``PROPERTIES_TRACE=0`` switches recording off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import platform
import traceback
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import hypothesis
import hypothesis.stateful as stateful
from hypothesis import settings as Settings
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import Bundle, RuleBasedStateMachine, run_state_machine_as_test
from hypothesis.strategies import DataObject

from properties.harness.codec import Choice, CodecError, Ref, encode

__all__ = [
    "FORMAT",
    "ProgramError",
    "TraceError",
    "TracedMachine",
    "find_failure",
    "last_trace",
    "load",
    "program_from_failure",
    "program_from_trace",
    "recording",
    "save",
    "type_name",
    "watching",
]

#: The regression program format this module writes and reads.
FORMAT = "properties.regression-program/1"

# The engine's markers: an AttributeError on import here means Hypothesis changed how it stores
# rules, and the hook below must be revisited.
RULE_MARKER: str = stateful.RULE_MARKER
INITIALIZE_RULE_MARKER: str = stateful.INITIALIZE_RULE_MARKER
INVARIANT_MARKER: str = stateful.INVARIANT_MARKER

_RECORDING: ContextVar[bool] = ContextVar(
    "properties_trace_recording",
    default=os.environ.get("PROPERTIES_TRACE", "1").strip().lower() not in ("0", "false", "no"),
)
_WATCH: ContextVar[Callable[[TracedMachine], object] | None] = ContextVar(
    "properties_trace_watch", default=None
)

_MISSING = object()
_ROOT = Path(__file__).resolve().parents[2]  # the repository: properties/harness/trace.py
_PLAIN = frozenset({int, str, bool, type(None)})
_PACKAGES = ("resilience", "circuitbreaker", "tenacity", "freezegun")


class TraceError(RuntimeError):
    """No usable trace: nothing failed, the failure was not recorded, or the hook is broken."""


class ProgramError(ValueError):
    """A file that is not a regression program of this format."""


@contextmanager
def watching(callback: Callable[[TracedMachine], object]) -> Iterator[None]:
    """Call ``callback`` with every machine created inside the block (one per example, its
    ``_trace`` already set), before the subclass sets anything up: it may raise to end the run
    (how ``fuzz`` counts examples and steps and ends a shard when its time is up)."""
    token = _WATCH.set(callback)
    try:
        yield
    finally:
        _WATCH.reset(token)


@contextmanager
def recording(enabled: bool) -> Iterator[None]:
    """Switch recording on or off for machines created inside the block (replay runs without)."""
    token = _RECORDING.set(enabled)
    try:
        yield
    finally:
        _RECORDING.reset(token)


# ---------------------------------------------------------------------------------- recording


class _RuleInfo:
    __slots__ = ("arguments", "function", "initialize", "name", "references")

    def __init__(self, rule: Any, initialize: bool) -> None:
        self.function = rule.function
        self.name: str = rule.function.__name__
        self.initialize = initialize
        self.arguments: dict[str, Any] = dict(rule.arguments)
        # Arguments the engine passes as a Bundle value it looked up by name (a Bundle with a
        # .map() passes the mapped value instead: recorded as a value).
        self.references = frozenset(
            key
            for key, strategy in self.arguments.items()
            if isinstance(strategy, Bundle)
            and all(kind == "filter" for kind, *_ in getattr(strategy, "_transformations", ()))
        )


class Step:
    """One rule call: arguments as passed (Bundle values as ``Ref``, ``st.data()`` as the draws
    made through it), the names given to what it returned, the time it took, whether it raised."""

    __slots__ = ("args", "clock_us", "info", "raised", "results")

    def __init__(self, info: _RuleInfo, args: dict[str, Any]) -> None:
        self.info = info
        self.args = args
        self.results: list[str] | None = None
        self.clock_us = 0
        self.raised = True  # until the rule returns

    @property
    def rule(self) -> str:
        return self.info.name


class _Draws:
    """Stands in for the ``st.data()`` object a rule receives, recording what it draws."""

    __slots__ = ("_data", "draws")

    def __init__(self, data: DataObject) -> None:
        self._data = data
        self.draws: list[tuple[str | None, Any, Any]] = []

    def draw(self, strategy: Any, label: Any = None) -> Any:
        value = self._data.draw(strategy, label)
        kind = type(value)
        if kind in _PLAIN:  # JSON as it is: the strategy is not needed (nor kept alive)
            self.draws.append((label, value, None))
        else:  # kept for a {"$choice": i} among its options, should the value have no JSON form
            self.draws.append((label, value.copy() if kind is list else value, strategy))
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)


class Trace:
    """The steps of one example, and where it failed."""

    __slots__ = ("broken", "final", "looked", "steps")

    def __init__(self, final: bool) -> None:
        self.steps: list[Step] = []
        self.looked: list[str] = []  # Bundle names the engine resolved for the next step
        self.final = final  # the example Hypothesis reports (after shrinking)
        self.broken: str | None = None

    def run(self, info: _RuleInfo, function: Callable[..., Any], machine: Any, kwargs: dict) -> Any:
        # The engine looks each Bundle argument up by name just before the call, in argument
        # order (earlier lookups, if any, were its draws trying candidates): the last ones name
        # the arguments.
        looked = self.looked
        wanted = [key for key in kwargs if key in info.references] if info.references else ()
        names = looked[len(looked) - len(wanted) :] if wanted else ()
        if len(names) != len(wanted):
            self.broken = f"rule {info.name}: Bundle arguments {wanted} were passed unnamed"
        args: dict[str, Any] = {}
        proxy = None
        for key, value in kwargs.items():
            if wanted and key in info.references:
                name = names[wanted.index(key)] if len(names) == len(wanted) else None
                if name is not None and dict.get(machine.names_to_values, name, _MISSING) is value:
                    value = Ref(name)
                else:
                    self.broken = f"rule {info.name}: argument {key} came from a Bundle unseen"
            elif isinstance(value, DataObject):
                value = kwargs[key] = proxy = _Draws(value)
            elif type(value) is list:
                value = value.copy()
            args[key] = value
        looked.clear()
        step = Step(info, args)
        self.steps.append(step)
        frozen = machine.__dict__.get("frozen")
        before = getattr(frozen, "advanced_us", 0)
        # No except clause: Hypothesis' explain phase lists lines run only by failing examples,
        # and none of ours must be among them. A step is "raised" until it returns.
        try:
            result = function(machine, **kwargs)
            step.raised = False
            return result
        finally:
            step.clock_us = getattr(frozen, "advanced_us", 0) - before
            if proxy is not None:
                proxy._data = None  # the example's data is not kept alive by the trace

    def named(self, name: str) -> None:
        """The engine put a result of the last step into a Bundle under ``name``."""
        if not self.steps:
            self.broken = f"a Bundle value {name} was named before any step"
            return
        step = self.steps[-1]
        if step.results is None:
            step.results = []
        step.results.append(name)


class _NameLog(dict):  # type: ignore[type-arg]
    """``machine.names_to_values`` that tells the trace which names the engine reads and sets."""

    __slots__ = ("trace",)

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace

    def __getitem__(self, name: str) -> Any:
        self.trace.looked.append(name)
        return dict.__getitem__(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        dict.__setitem__(self, name, value)
        self.trace.named(name)


def _traced_rule(rule: Any, initialize: bool) -> Callable[..., Any]:
    function = rule.function
    info = _RuleInfo(rule, initialize)

    @functools.wraps(function)
    def traced(machine: Any, **kwargs: Any) -> Any:
        trace = machine.__dict__.get("_trace")
        if trace is None:
            return function(machine, **kwargs)
        return trace.run(info, function, machine, kwargs)

    traced._trace_info = info  # type: ignore[attr-defined]
    del traced.__wrapped__  # type: ignore[attr-defined]  # (inspect would show the original)
    return traced


def _instrument(cls: type) -> None:
    """Record the rules and initialize rules of ``cls`` and of every class it derives from
    (rules a mixin brings must not go missing from programs)."""
    for klass in cls.__mro__:
        for attribute in list(vars(klass).values()):
            for marker, initialize in ((RULE_MARKER, False), (INITIALIZE_RULE_MARKER, True)):
                rule = getattr(attribute, marker, None)
                if rule is not None and not hasattr(rule.function, "_trace_info"):
                    traced = _traced_rule(rule, initialize)
                    setattr(attribute, marker, dataclasses.replace(rule, function=traced))


_LAST: weakref.WeakKeyDictionary[type, Trace] = weakref.WeakKeyDictionary()
_FINALS: weakref.WeakKeyDictionary[type, list[Trace]] = weakref.WeakKeyDictionary()


def _is_final() -> bool:
    try:
        return bool(current_build_context().is_final)
    except InvalidArgument:  # not under Hypothesis
        return False


class TracedMachine(RuleBasedStateMachine):
    """A state machine whose examples record their steps (see the module docstring).

    ``machine_id`` names the machine in programs (the target is ``type(self).target.name``)."""

    machine_id: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _instrument(cls)

    def __init__(self) -> None:
        super().__init__()
        self._trace: Trace | None = None
        if not _RECORDING.get():
            return
        trace = Trace(_is_final())
        names = self.__dict__.get("names_to_values")
        if type(names) is dict and not names:
            self.names_to_values = _NameLog(trace)
        else:
            trace.broken = "RuleBasedStateMachine no longer starts with names_to_values = {}"
        cls = type(self)
        _LAST[cls] = trace
        if trace.final:
            finals = _FINALS.setdefault(cls, [])
            finals.append(trace)
            del finals[:-16]
        self._trace = trace
        watch = _WATCH.get()
        if watch is not None:  # last: subclasses start frozen time only after this returns
            watch(self)


def last_trace(machine: type) -> Trace | None:
    """The trace of the last example of ``machine`` (a class) that ran with recording on."""
    return _LAST.get(machine)


# ---------------------------------------------------------------------------------- programs


def type_name(cls: type) -> str:
    """How a program names an exception type: ``AssertionError``, ``resilience.errors.X``."""
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


def _machine_in(error: BaseException) -> TracedMachine | None:
    """The machine an exception was raised in, found in its traceback's frames (the recorder's
    ``machine``, a rule's or an invariant's ``self``)."""
    tb = error.__traceback__
    while tb is not None:
        local = tb.tb_frame.f_locals
        for name in ("machine", "self"):
            candidate = local.get(name)
            if isinstance(candidate, TracedMachine) and candidate._trace is not None:
                return candidate
        tb = tb.tb_next
    return None


def _failing_trace(machine: type, error: BaseException) -> tuple[Trace, BaseException]:
    """The trace of the example that raised ``error`` (or a leaf of it, for a group), and that
    exception; failing that, the last final (reported) example of ``machine``."""
    leaves = list(_leaves(error))
    for leaf in leaves:
        found = _machine_in(leaf)
        if found is not None and isinstance(found, machine) and found._trace is not None:
            return found._trace, leaf
    finals = _FINALS.get(machine)
    if finals:
        return finals[-1], leaves[0]
    raise TraceError(
        f"no failing example of {machine.__name__} was recorded (was it run by Hypothesis, "
        "with recording on, and did it fail?)"
    )


def _failed_in(machine: type, error: BaseException) -> str | None:
    """``rule NAME`` or ``invariant NAME``: the innermost of the machine's functions the error
    passed through (None: neither, e.g. teardown or the engine)."""
    setup = machine.setup_state()  # type: ignore[attr-defined]
    labels: dict[Any, str] = {}
    for rule in [*setup.rules, *setup.initializers]:
        original = getattr(getattr(rule.function, "_trace_info", None), "function", rule.function)
        labels[getattr(original, "__code__", None)] = f"rule {rule.function.__name__}"
    for invariant in setup.invariants:
        labels[getattr(invariant.function, "__code__", None)] = (
            f"invariant {invariant.function.__name__}"
        )
    found = None
    for frame, _ in traceback.walk_tb(error.__traceback__):
        found = labels.get(frame.f_code, found)
    return found


def _encode_value(value: Any, strategy: Any, where: str) -> Any:
    """``value`` as JSON, or, for an object with no JSON form drawn from ``sampled_from``,
    its position among the options (``{"$choice": i}``)."""
    try:
        return encode(value, where)
    except CodecError:
        options = getattr(strategy, "elements", None)
        if isinstance(options, tuple | list) and not getattr(strategy, "_transformations", ()):
            for index, option in enumerate(options):
                if option is value:
                    return encode(Choice(index))
        raise


def encode_step(step: Step, index: int) -> dict[str, Any]:
    """One step as JSON."""
    info = step.info
    where = f"step {index} ({info.name})"
    args: dict[str, Any] = {}
    for key, value in step.args.items():
        if type(value) is _Draws:
            args[key] = {
                "$draws": [
                    _draw_json(label, drawn, strategy, f"{where}, {key} draw {number}")
                    for number, (label, drawn, strategy) in enumerate(value.draws)
                ]
            }
        else:
            args[key] = _encode_value(value, info.arguments.get(key), f"{where}, {key}")
    encoded: dict[str, Any] = {"rule": info.name}
    if info.initialize:
        encoded["initialize"] = True
    encoded["args"] = args
    if step.results:
        encoded["returns"] = list(step.results)
    if step.clock_us:
        encoded["clock_us"] = step.clock_us
    if step.raised:
        encoded["raised"] = True
    return encoded


def _draw_json(label: Any, value: Any, strategy: Any, where: str) -> dict[str, Any]:
    drawn: dict[str, Any] = {} if label is None else {"label": str(label)}
    drawn["value"] = _encode_value(value, strategy, where)
    return drawn


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {
        "python": platform.python_version(),
        "hypothesis": hypothesis.__version__,
    }
    for package in _PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def program_from_failure(
    machine: type,
    error: BaseException,
    *,
    profile: str | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """The regression program of the failure ``error`` that running ``machine`` (a class) under
    Hypothesis raised: the trace of the example it came from, which is the final, shrunk one
    Hypothesis reports (for an exception group, the first of its failures with a trace)."""
    trace, leaf = _failing_trace(machine, error)
    at = len(trace.steps) - 1 if trace.steps else None
    return program_from_trace(
        machine, trace, (leaf, _failed_in(machine, leaf), at), profile=profile, seed=seed
    )


def program_from_trace(
    machine: type,
    trace: Trace,
    failure: tuple[BaseException, str | None, int | None] | None = None,
    *,
    profile: str | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """The program of any recorded ``trace`` of ``machine``; ``failure`` is (exception, where,
    step index) or None for a run that passed."""
    if trace.broken is not None:
        raise TraceError(
            f"the trace of {machine.__name__} cannot be trusted ({trace.broken}): the hook into "
            "hypothesis.stateful no longer matches this Hypothesis version"
        )
    steps = [encode_step(step, index) for index, step in enumerate(trace.steps)]
    target = getattr(machine, "target", None)
    failed = None
    if failure is not None:
        error, where, at = failure
        failed = {
            "type": type_name(type(error)),
            "message": _message(error),
            "step": at,
            "in": where,
            "raised_at": _raised_at(error),
        }
    return {
        "format": FORMAT,
        "machine": getattr(machine, "machine_id", "") or machine.__name__,
        "target": getattr(target, "name", None),
        "machine_class": machine.__name__,
        "versions": versions(),
        "profile": profile if profile is not None else Settings.get_current_profile_name(),
        "seed": seed,
        "failure": failed,
        "steps": steps,
    }


def _is_leaf(candidate: BaseException, error: BaseException) -> bool:
    return any(leaf is candidate for leaf in _leaves(error))


def _raised_at(error: BaseException) -> str | None:
    """``file:line: source`` of the innermost frame (a bare ``assert`` has no message)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return None
    frame = frames[-1]
    path = Path(frame.filename)
    with contextlib.suppress(ValueError):
        path = path.relative_to(_ROOT)  # the same in every program, wherever it ran from
    return f"{path.as_posix()}:{frame.lineno}: {(frame.line or '').strip()}"


def _message(error: BaseException, limit: int = 4_000) -> str:
    text = str(error)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more)"


def find_failure(
    machine: type[RuleBasedStateMachine],
    settings: Settings | None = None,
    *,
    profile: str | None = None,
    seed: int | None = None,
) -> dict[str, Any] | None:
    """Run ``machine`` under ``settings`` (default: the active profile): the regression program
    of its minimal failing example, or None when it passes."""
    try:
        with recording(True):
            run_state_machine_as_test(machine, settings=settings or Settings.default)
    except Exception as error:
        return program_from_failure(machine, error, profile=profile, seed=seed)
    return None


def dumps(program: dict[str, Any]) -> str:
    """The program as JSON text: indented, but one line per step (so diffs stay readable)."""
    parts = []
    for key, value in program.items():
        if key == "steps" and value:
            lines = ",\n".join(f"    {json.dumps(step, ensure_ascii=False)}" for step in value)
            text = f"[\n{lines}\n  ]"
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def save(program: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``program`` to ``path`` (directories created); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(program)
    json.loads(text)  # never write a file that does not read back
    target.write_text(text, encoding="utf-8")
    return target


_REQUIRED = {"format": str, "machine": str, "steps": list, "failure": (dict, type(None))}


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a program written by ``save``; ``ProgramError`` if the file is not one."""
    source = Path(path)
    try:
        program = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProgramError(f"{source}: not a readable JSON file: {error}") from error
    if not isinstance(program, dict):
        raise ProgramError(f"{source}: a program is a JSON object, not {type(program).__name__}")
    if program.get("format") == "properties.fuzz-summary/1":
        raise ProgramError(
            f"{source}: a fuzz summary (read it with `python -m properties report`), not a "
            "regression program"
        )
    for key, kind in _REQUIRED.items():
        if key not in program:
            raise ProgramError(f"{source}: no {key!r} key: not a regression program")
        if not isinstance(program[key], kind):
            raise ProgramError(f"{source}: {key!r} has the wrong type")
    if program["format"] != FORMAT:
        raise ProgramError(f"{source}: format {program['format']!r}; this suite reads {FORMAT!r}")
    return program

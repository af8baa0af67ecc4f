"""Replaying a regression program without the Hypothesis engine.

``replay(program)`` builds the machine class the program names (or the one given), then does
what the engine does, directly: the invariants once, then each step (initialize rules first,
every rule only when its preconditions hold) with its recorded arguments, Bundle values resolved
by the names the replay itself gives to what rules return, ``st.data()`` answered with the
recorded draws in order; after each step every invariant; and ``teardown()`` always.

* A failure raises the very exception the machine raised (``AssertionError`` etc.), with a note
  naming the step, or the invariant after it, that failed.
* A program that no longer fits the machine (a rule, an argument or a draw it no longer has, one
  it has and the program lacks, a value that no longer decodes, a precondition that no longer
  holds) raises ``ProgramDoesNotApply`` saying which: never skipped, never taken for a pass.
* The step that failed in the recording was cut short by its failure, so it recorded only the
  draws it made before it. If replay gets past that point and asks for more, the failure did
  not happen: the step stops there and the replay passes (``got_past_failure``).
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis.stateful import Bundle, MultipleResults, RuleBasedStateMachine

from properties.harness.codec import Choice, CodecError, Ref, decode
from properties.harness.state import state_lines
from properties.harness.trace import load, recording, type_name

__all__ = ["ProgramDoesNotApply", "ReplayResult", "replay", "replay_file", "same_failure"]


class ProgramDoesNotApply(Exception):
    """The program no longer fits the machine: it cannot say anything about the code."""


@dataclasses.dataclass
class ReplayResult:
    machine: str  # the class replayed
    steps: int  # steps run
    got_past_failure: bool  # the recorded failing step ran past the point where it failed
    log: list[str]


class _DrawMismatch(BaseException):
    """Raised inside a rule (a BaseException: a rule's ``except Exception`` cannot swallow it)."""


class _PastFailure(BaseException):
    """The step that failed in the recording asked for a draw made after its failure point."""


def same_failure(program: dict[str, Any], error: BaseException) -> bool:
    """Whether ``error`` is of the exception type the program recorded."""
    failure = program.get("failure") or {}
    return bool(failure) and failure.get("type") == type_name(type(error))


def replay_file(
    path: str | os.PathLike[str],
    machine: type[RuleBasedStateMachine] | None = None,
    *,
    echo: Callable[[str], object] | None = None,
) -> ReplayResult:
    return replay(load(path), machine, echo=echo, name=os.fspath(path))


def replay(
    program: dict[str, Any],
    machine: type[RuleBasedStateMachine] | None = None,
    *,
    echo: Callable[[str], object] | None = None,
    name: str | None = None,
) -> ReplayResult:
    """Replay ``program`` against ``machine`` (default: the class its ``machine`` and ``target``
    name). Returns when every step and invariant passed; otherwise raises the failure, or
    ``ProgramDoesNotApply``."""
    label = name or f"program {program.get('machine')}/{program.get('target')}"
    cls = machine if machine is not None else _machine_for(program, label)
    wanted = getattr(cls, "machine_id", "")
    if wanted and program.get("machine") != wanted:
        raise ProgramDoesNotApply(
            f"{label}: a program of machine {program.get('machine')!r}, not {wanted!r}"
        )
    return _Replay(program, cls, label, echo).run()


def _machine_for(program: dict[str, Any], label: str) -> type[RuleBasedStateMachine]:
    from properties.catalog import machine_class

    try:
        return machine_class(str(program.get("machine")), str(program.get("target")))
    except LookupError as error:
        raise ProgramDoesNotApply(f"{label}: {error}") from None


@dataclasses.dataclass
class _Planned:
    index: int
    rule: Any  # hypothesis.stateful.Rule
    initialize: bool
    args: dict[str, Any]  # decoded: values, Ref, Choice, or _Recorded draws
    raised: bool
    clock_us: int
    text: str


@dataclasses.dataclass
class _Recorded:
    draws: list[tuple[str | None, Any]]


class _ReplayDraws:
    """Answers a rule's ``data.draw(...)`` with the recorded values, in order."""

    def __init__(self, recorded: _Recorded, where: str, truncated: bool) -> None:
        self.draws = recorded.draws
        self.where = where
        self.truncated = truncated
        self.position = 0
        self.error: str | None = None
        self.past = False  # asked for a draw the failing step never made

    def draw(self, strategy: Any, label: Any = None) -> Any:
        number = self.position
        if number >= len(self.draws):
            if self.truncated:
                self.past = True
                raise _PastFailure
            self._mismatch(f"it draws more values than the {len(self.draws)} recorded")
        recorded_label, value = self.draws[number]
        self.position += 1
        now = None if label is None else str(label)
        if now != recorded_label:
            self._mismatch(f"draw {number} is labelled {now!r}; the program has {recorded_label!r}")
        if isinstance(value, Choice):
            options = getattr(strategy, "elements", None)
            if not isinstance(options, tuple | list) or value.index >= len(options):
                self._mismatch(f"draw {number} ({now}) has no option {value.index} any more")
            return options[value.index]  # type: ignore[index]
        return value

    def _mismatch(self, detail: str) -> None:
        self.error = f"{self.where}: {detail}"
        raise _DrawMismatch(self.error)

    def finish(self) -> None:
        if self.error is None and self.position != len(self.draws):
            self.error = (
                f"{self.where}: it draws {self.position} values; the program recorded "
                f"{len(self.draws)}"
            )
        if self.error is not None:
            raise ProgramDoesNotApply(_no_longer(self.error))


def _no_longer(detail: str) -> str:
    return f"{detail}: the program no longer applies to this machine"


class _Replay:
    def __init__(
        self,
        program: dict[str, Any],
        cls: type[RuleBasedStateMachine],
        label: str,
        echo: Callable[[str], object] | None,
    ) -> None:
        self.program = program
        self.cls = cls
        self.label = label
        self.echo = echo
        self.log: list[str] = []
        self.setup = cls.setup_state()
        steps = program.get("steps")
        if not isinstance(steps, list):
            raise ProgramDoesNotApply(f"{label}: no list of steps: not a regression program")
        self.plan = [self._plan(index, step) for index, step in enumerate(steps)]

    # ------------------------------------------------------------------------- planning

    def _fail(self, detail: str) -> ProgramDoesNotApply:
        return ProgramDoesNotApply(_no_longer(f"{self.label}: {detail}"))

    def _plan(self, index: int, step: Any) -> _Planned:
        if not isinstance(step, dict) or not isinstance(step.get("rule"), str):
            raise self._fail(f"step {index} is not a step: {step!r}")
        name, initialize = step["rule"], bool(step.get("initialize", False))
        rules = {rule.function.__name__: rule for rule in self.setup.rules}
        initializers = {rule.function.__name__: rule for rule in self.setup.initializers}
        found = (initializers if initialize else rules).get(name)
        if found is None:
            kind = "initialize rule" if initialize else "rule"
            other = name in (rules if initialize else initializers)
            because = (
                f"{name!r} is now {'a rule' if initialize else 'an initialize rule'}"
                if other
                else f"{self.cls.__name__} has no {kind} {name!r} "
                f"(its {kind}s: {', '.join(sorted(initializers if initialize else rules))})"
            )
            raise self._fail(f"step {index} ({name}): {because}")
        where = f"step {index} ({name})"
        recorded = step.get("args", {})
        if not isinstance(recorded, dict):
            raise self._fail(f"{where}: its arguments are not an object")
        declared = found.arguments
        unknown = sorted(set(recorded) - set(declared))
        if unknown:
            raise self._fail(
                f"{where}: rule {name} no longer takes argument {', '.join(unknown)} "
                f"(it takes: {', '.join(sorted(declared)) or 'none'})"
            )
        missing = sorted(set(declared) - set(recorded))
        if missing:
            raise self._fail(
                f"{where}: rule {name} now takes argument {', '.join(missing)}, which the "
                "program does not give"
            )
        args = {key: self._argument(where, key, declared[key], recorded[key]) for key in declared}
        returns = step.get("returns") or []
        text = f"state.{name}({', '.join(f'{k}={_show(v)}' for k, v in args.items())})"
        if returns:
            text = f"{', '.join(map(str, returns))} = {text}"
        clock_us = step.get("clock_us", 0)
        if type(clock_us) is not int:
            raise self._fail(f"{where}: clock_us is not an integer: {clock_us!r}")
        raised = bool(step.get("raised"))
        return _Planned(index, found, initialize, args, raised, clock_us, text)

    def _argument(self, where: str, key: str, strategy: Any, encoded: Any) -> Any:
        is_data = repr(strategy) == "data()"
        if isinstance(encoded, dict) and "$draws" in encoded:
            if not is_data:
                raise self._fail(f"{where}: argument {key} is no longer st.data()")
            draws = encoded["$draws"]
            if not isinstance(draws, list):
                raise self._fail(f"{where}: argument {key}: malformed draws")
            decoded = []
            for number, draw in enumerate(draws):
                if not isinstance(draw, dict) or "value" not in draw:
                    raise self._fail(f"{where}: {key} draw {number} is malformed: {draw!r}")
                value = self._decode(draw["value"], f"{where}, {key} draw {number}")
                label = draw.get("label")
                decoded.append((None if label is None else str(label), value))
            return _Recorded(decoded)
        if is_data:
            raise self._fail(f"{where}: argument {key} is now st.data(); the program has a value")
        value = self._decode(encoded, f"{where}, argument {key}")
        if isinstance(strategy, Bundle) and not getattr(strategy, "_transformations", ()):
            if not isinstance(value, Ref):
                raise self._fail(f"{where}: argument {key} now comes from Bundle {strategy.name}")
            if value.bundle != strategy.name:
                raise self._fail(
                    f"{where}: argument {key} comes from Bundle {strategy.name} now, not "
                    f"{value.bundle} ({value.name})"
                )
        elif isinstance(value, Ref):
            raise self._fail(f"{where}: argument {key} no longer comes from a Bundle")
        return value

    def _decode(self, encoded: Any, where: str) -> Any:
        try:
            return decode(encoded, where)
        except CodecError as error:
            raise self._fail(str(error)) from None

    # ------------------------------------------------------------------------- running

    def say(self, line: str) -> None:
        self.log.append(line)
        if self.echo is not None:
            self.echo(line)

    def run(self) -> ReplayResult:
        with recording(False):
            machine = self.cls()
        names: dict[str, Any] = {}
        consumed: set[str] = set()
        counters: Counter[str] = Counter()
        pending = list(self.setup.initializers)
        current = "before the first step"
        ran, got_past = 0, False
        self.failed_in: str | None = None
        self.say(f"state = {self.cls.__name__}()")
        try:
            self._invariants(machine, pending)
            for planned in self.plan:
                current = f"step {planned.index} of {len(self.plan)}: {planned.text}"
                self.say(planned.text)
                self._admit(machine, planned, pending)
                kwargs, draws = self._resolve(planned, names, consumed)
                self.failed_in = f"rule {planned.rule.function.__name__}"
                clock_before = _clock_us(machine)
                try:
                    result = planned.rule.function(machine, **kwargs)
                except _PastFailure:
                    got_past = True
                except BaseException as error:
                    for replayed in draws:
                        if replayed.error is not None:  # the rule tripped over the program
                            raise ProgramDoesNotApply(_no_longer(replayed.error)) from error
                    raise
                else:
                    got_past = any(replayed.past for replayed in draws)
                    if not got_past:
                        for replayed in draws:
                            replayed.finish()
                if got_past:
                    self.say(f"  # got past the point where step {planned.index} failed")
                    break
                self._compare_clock(machine, planned, clock_before)
                ran += 1
                self._name_results(planned, result, names, counters)
                self._invariants(machine, pending)
        except ProgramDoesNotApply:
            raise
        except BaseException as error:
            error.add_note(f"replaying {self.label}: {self.failed_in} failed, {current}")
            self.say(f"  # {self.failed_in} raised {type_name(type(error))}: {error}")
            for line in state_lines(machine):
                self.say(f"  # {line}")
            raise
        finally:
            self.say("state.teardown()")
            machine.teardown()
        return ReplayResult(self.cls.__name__, ran, got_past, self.log)

    def _compare_clock(self, machine: Any, planned: _Planned, before: int | None) -> None:
        """Say so (without failing) when a step moved the clock by another amount than in the
        recording: where a replay against changed code starts to diverge."""
        after = _clock_us(machine)
        if before is None or after is None:
            return
        moved = after - before
        if moved != planned.clock_us:
            self.say(f"  # the clock moved {moved} us; in the recording {planned.clock_us} us")

    def _admit(self, machine: Any, planned: _Planned, pending: list[Any]) -> None:
        where = f"step {planned.index} ({planned.rule.function.__name__})"
        if planned.initialize:
            if planned.rule not in pending:
                raise self._fail(f"{where}: this initialize rule already ran")
            pending.remove(planned.rule)
            return
        if pending:
            names = ", ".join(rule.function.__name__ for rule in pending)
            raise self._fail(f"{where}: the machine first runs initialize rule(s) {names}")
        for condition in planned.rule.preconditions:
            if not condition(machine):
                raise self._fail(f"{where}: a precondition of the rule no longer holds here")

    def _resolve(
        self, planned: _Planned, names: dict[str, Any], consumed: set[str]
    ) -> tuple[dict[str, Any], list[_ReplayDraws]]:
        where = f"step {planned.index} ({planned.rule.function.__name__})"
        kwargs: dict[str, Any] = {}
        draws: list[_ReplayDraws] = []
        for key, value in planned.args.items():
            strategy = planned.rule.arguments[key]
            if isinstance(value, Ref):
                if value.name in consumed:
                    raise self._fail(f"{where}: {value.name} was consumed by an earlier step")
                if value.name not in names:
                    raise self._fail(f"{where}: no step of the replay returned {value.name}")
                if strategy.consume:
                    consumed.add(value.name)
                kwargs[key] = names[value.name]
            elif isinstance(value, _Recorded):
                replayed = _ReplayDraws(value, f"{where}, {key}", planned.raised)
                draws.append(replayed)
                kwargs[key] = replayed
            elif isinstance(value, Choice):
                options = getattr(strategy, "elements", None)
                if not isinstance(options, tuple | list) or value.index >= len(options):
                    raise self._fail(f"{where}: argument {key} has no option {value.index}")
                kwargs[key] = options[value.index]
            else:
                kwargs[key] = value
        return kwargs, draws

    def _name_results(
        self, planned: _Planned, result: Any, names: dict[str, Any], counters: Counter[str]
    ) -> None:
        targets = planned.rule.targets
        if not targets:
            return
        values = result.values if isinstance(result, MultipleResults) else (result,)
        for target in targets:
            for value in values:
                name = f"{target}_{counters[target]}"
                counters[target] += 1
                names[name] = value

    def _invariants(self, machine: Any, pending: list[Any]) -> None:
        for invariant in self.setup.invariants:
            if pending and not invariant.check_during_init:
                continue
            if not all(condition(machine) for condition in invariant.preconditions):
                continue
            self.failed_in = f"invariant {invariant.function.__name__}"
            invariant.function(machine)


def _clock_us(machine: Any) -> int | None:
    advanced = getattr(machine.__dict__.get("frozen"), "advanced_us", None)
    return advanced if type(advanced) is int else None


def _show(value: Any) -> str:
    if isinstance(value, _Recorded):
        drawn = ", ".join(
            f"{label}={item!r}" if label is not None else repr(item) for label, item in value.draws
        )
        return f"data({drawn})"
    return repr(value)

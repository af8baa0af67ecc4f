"""Step traces and regression programs: recording inside Hypothesis, the JSON form, and replay
without the engine (properties/harness/trace.py, codec.py, replay.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from properties import catalog
from properties.harness import trace
from properties.harness.codec import Choice, CodecError, Ref, decode, encode
from properties.harness.replay import ProgramDoesNotApply, replay, replay_file, same_failure
from properties.harness.trace import (
    ProgramError,
    TracedMachine,
    find_failure,
    last_trace,
    load,
    program_from_trace,
    recording,
    save,
)
from properties.machines.breaker import breaker_machine
from properties.mutants.breaker import BREAKER_MUTANTS
from properties.strategies import (
    LIMITER_KEYS,
    breaker_cases,
    bulkhead_specs,
    chain_specs,
    limit_cases,
    op_scripts,
    pool_specs,
    retry_scripts,
    retry_specs,
)
from properties.targets.breaker import RESILIENCE, resilience_target
from properties.targets.ratelimit import LIMITER_TARGETS
from resilience.breaker.breaker import BreakerState
from resilience.bulkhead import DEFAULT as BULKHEAD_DEFAULT

# Deterministic and small: the whole file must stay fast.
QUICK = settings(
    max_examples=100,
    stateful_step_count=20,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    report_multiple_bugs=False,
    phases=[Phase.generate, Phase.shrink],  # the explain phase traces every line: slow
)
PLANTED = "RecoveryBoundaryExclusive"  # found and shrunk in well under a second at QUICK


# ---------------------------------------------------------------------------------- a tiny machine


class Item:
    """A Bundle value with an identity (not JSON: it must travel by name)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Item({self.n})"


class Tiny(TracedMachine):
    """Every feature the recorder handles: an initialize rule, Bundle targets, ``multiple``,
    ``consumes``, ``st.data()``, a precondition, an invariant."""

    machine_id = "tiny"
    items = Bundle("items")
    limit = 12

    @initialize(start=st.integers(0, 3))
    def begin(self, start: int) -> None:
        self.total = start

    @rule(target=items, n=st.integers(0, 20))
    def make(self, n: int) -> Item:
        return Item(n)

    @rule(target=items, data=st.data())
    def make_some(self, data: st.DataObject) -> Any:
        return multiple(*(Item(1) for _ in range(data.draw(st.integers(0, 2), label="how many"))))

    @rule(item=consumes(items))
    def drop(self, item: Item) -> None:
        self.total += item.n

    @rule(item=items, data=st.data())
    def peek(self, item: Item, data: st.DataObject) -> None:
        data.draw(st.sampled_from([item, None]), label="which")

    @precondition(lambda self: self.total > 0)
    @rule()
    def halve(self) -> None:
        self.total //= 2

    @invariant()
    def bounded(self) -> None:
        assert self.total < self.limit, f"total {self.total} reached {self.limit}"


class TinyFixed(Tiny):
    limit = 10**9


@pytest.fixture(scope="module")
def tiny_failure() -> tuple[dict[str, Any], list[str]]:
    """The program of Tiny's shrunk failure, and the steps Hypothesis reported for it."""
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(Tiny, settings=settings(QUICK, stateful_step_count=5))
    return trace.program_from_failure(Tiny, caught.value), caught.value.__notes__


def test_hook_records_what_hypothesis_reports(tiny_failure: Any) -> None:
    """The pin on hypothesis.stateful's internals: every rule of a traced class is wrapped, and the
    trace of the final failing example names the same calls and Bundle values as Hypothesis'
    own printout. If an upgrade changes how rules are stored or called, this fails."""
    for rule_ in [*Tiny.setup_state().rules, *Tiny.setup_state().initializers]:
        assert hasattr(rule_.function, "_trace_info"), rule_
    program, notes = tiny_failure
    calls = [line.strip() for line in notes if "state." in line and "state = " not in line]
    reported = [line.split("state.", 1)[1].split("(", 1)[0] for line in calls]
    reported = [name for name in reported if name not in {"bounded", "teardown"}]
    assert [step["rule"] for step in program["steps"]] == reported
    text = "\n".join(calls)
    for step in program["steps"]:
        for name in step.get("returns", []):
            assert f"{name} = state." in text or f"{name}," in text or f"({name},)" in text
        for value in step["args"].values():
            if isinstance(value, dict) and "$ref" in value:
                assert value["$ref"] in text
    assert program["failure"]["type"] == "AssertionError"
    assert program["failure"]["in"] == "invariant bounded"
    assert any("$ref" in json.dumps(step) for step in program["steps"])


def test_tiny_program_replays_the_failure_and_passes_once_fixed(
    tiny_failure: Any, tmp_path: Path
) -> None:
    program, _ = tiny_failure
    path = save(program, tmp_path / "tiny.json")
    assert load(path) == json.loads(json.dumps(program))
    with pytest.raises(AssertionError, match="reached 12"):
        replay_file(path, Tiny)
    result = replay_file(path, TinyFixed)
    assert result.steps == len(program["steps"])


SHARED = (Item(5), Item(6))


class Picking(TracedMachine):
    """Draws objects with no JSON form from ``sampled_from``, in a rule's body and as a rule's
    argument, and keeps the positions it picked."""

    machine_id = "picking"
    seen: ClassVar[list[list[int]]] = []

    @initialize()
    def begin(self) -> None:
        self.things = [Item(0), Item(1), Item(2)]
        self.picked: list[int] = []

    @rule(data=st.data())
    def pick(self, data: st.DataObject) -> None:
        thing = data.draw(st.sampled_from(self.things), label="thing")
        self.picked.append(next(i for i, t in enumerate(self.things) if t is thing))

    @rule(thing=st.sampled_from(SHARED))
    def pick_shared(self, thing: Item) -> None:
        self.picked.append(10 + SHARED.index(thing))

    def teardown(self) -> None:
        self.seen.append(self.picked)


def test_objects_drawn_from_sampled_from_travel_as_choices() -> None:
    """An object with no JSON form drawn from ``sampled_from`` (in the rule, or as its argument)
    is recorded as its position among the options; replay picks the same objects."""
    with recording(True):
        run_state_machine_as_test(Picking, settings=settings(QUICK, max_examples=5))
    recorded = last_trace(Picking)
    assert recorded is not None
    program = json.loads(trace.dumps(program_from_trace(Picking, recorded)))
    text = json.dumps(program["steps"])
    assert '"$choice"' in text
    picked = Picking.seen[-1]
    assert len(picked) == len(program["steps"]) - 1 > 2
    replay(program, Picking)
    assert Picking.seen[-1] == picked
    assert encode(Choice(1)) == {"$choice": 1}
    assert decode({"$choice": 1}) == Choice(1)


def test_a_program_records_bundle_values_by_name(tiny_failure: Any) -> None:
    program, _ = tiny_failure
    steps = program["steps"]
    returned = {name for step in steps for name in step.get("returns", [])}
    used = {
        value["$ref"]
        for step in steps
        for value in step["args"].values()
        if isinstance(value, dict) and "$ref" in value
    }
    assert used
    assert used <= returned


def test_failing_step_that_gets_further_once_fixed_passes() -> None:
    """The recorded failing step holds only the draws made before it failed; a fixed machine
    that asks for more got past the failure: the replay passes and says so."""

    class Counting(TracedMachine):
        machine_id = "counting"
        stop_at = 2

        @rule(data=st.data())
        def count(self, data: st.DataObject) -> None:
            for i in range(4):
                data.draw(st.integers(0, 3), label=f"n{i}")
                assert i < self.stop_at, "stopped"

    class CountingFixed(Counting):
        stop_at = 99

    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(Counting, settings=QUICK)
    program = trace.program_from_failure(Counting, caught.value)
    (step,) = program["steps"]
    assert program["failure"]["in"] == "rule count"
    assert "assert i < self.stop_at" in program["failure"]["raised_at"]
    assert step["raised"] is True
    assert len(step["args"]["data"]["$draws"]) == 3
    with pytest.raises(AssertionError, match="stopped"):
        replay(program, Counting)
    result = replay(program, CountingFixed)
    assert result.got_past_failure


# ---------------------------------------------------------------------------------- the breaker


@pytest.fixture(scope="module")
def planted_program() -> dict[str, Any]:
    """The shrunk failing program of the breaker machine against a planted bug."""
    machine = breaker_machine(resilience_target(PLANTED, BREAKER_MUTANTS[PLANTED]))
    program = find_failure(machine, settings(QUICK, max_examples=200), profile="test")
    assert program is not None, "the planted bug went unnoticed"
    return program


def test_planted_bug_program_fails_the_same_way_and_passes_once_fixed(
    planted_program: dict[str, Any], tmp_path: Path
) -> None:
    """(a) Hypothesis finds and shrinks the planted bug; the saved program replays, without the
    engine, to the same kind of failure; against the real breaker it passes."""
    program = planted_program
    assert program["machine"] == "breaker"
    assert program["target"] == PLANTED
    assert program["profile"] == "test"
    assert program["seed"] is None
    assert program["versions"]["hypothesis"]
    assert program["steps"][0] == {**program["steps"][0], "rule": "build", "initialize": True}
    path = save(program, tmp_path / "regressions" / "breaker.json")
    loaded = load(path)
    assert loaded == json.loads(json.dumps(program))
    with pytest.raises(AssertionError) as caught:
        replay(loaded)  # the machine class comes from the catalog: breaker / PLANTED
    assert same_failure(loaded, caught.value)
    failure = loaded["failure"]
    where = f"{failure['in']} failed, step {failure['step']} of {len(loaded['steps'])}"
    assert any(where in note for note in caught.value.__notes__), caught.value.__notes__
    result = replay(loaded, breaker_machine(RESILIENCE))
    assert result.steps == len(loaded["steps"])
    assert not result.got_past_failure


def test_program_survives_an_edited_machine_class(planted_program: dict[str, Any]) -> None:
    """(b) A docstring and a new rule (which changes Hypothesis' database key for the class)
    change nothing for the program."""

    def edited(base: type) -> type:
        class Edited(base):  # type: ignore[valid-type, misc]
            """The breaker machine, edited after the regression was recorded."""

            @rule(us=st.integers(0, 5))
            def a_new_rule(self, us: int) -> None:
                self.frozen.advance_us(us)

        return Edited

    planted = edited(breaker_machine(resilience_target(PLANTED, BREAKER_MUTANTS[PLANTED])))
    assert "a_new_rule" in {r.function.__name__ for r in planted.setup_state().rules}
    with pytest.raises(AssertionError) as caught:
        replay(planted_program, planted)
    assert same_failure(planted_program, caught.value)
    replay(planted_program, edited(breaker_machine(RESILIENCE)))


def _edited(program: dict[str, Any], step: int, change: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(program))
    change(copy["steps"][step])
    return copy


def _add_argument(step: dict[str, Any]) -> None:
    step["args"]["colour"] = "blue"


def _drop_argument(step: dict[str, Any]) -> None:
    del step["args"]["outcome"]


def _unknown_field(step: dict[str, Any]) -> None:
    step["args"]["data"]["$draws"][0]["value"]["fields"]["shape"] = "round"


def _relabel(step: dict[str, Any]) -> None:
    step["args"]["data"]["$draws"][0]["label"] = "colour"


def _unknown_class(step: dict[str, Any]) -> None:
    step["args"]["data"]["$draws"][0]["value"]["$dataclass"] = "properties.strategies:Gone"


def _foreign_module(step: dict[str, Any]) -> None:
    step["args"]["data"]["$draws"][0]["value"]["$dataclass"] = "os:DirEntry"


@pytest.mark.parametrize(
    ("step", "change", "message"),
    [
        (1, lambda s: s.update(rule="frobnicate"), "has no rule 'frobnicate'"),
        (0, lambda s: s.update(rule="frobnicate"), "has no initialize rule 'frobnicate'"),
        (1, _add_argument, "no longer takes argument colour"),
        (1, _drop_argument, "now takes argument outcome, which the program does not give"),
        (0, _unknown_field, "has no field 'shape' any more"),
        (0, _relabel, "labelled 'case'; the program has 'colour'"),
        (0, _unknown_class, "has no Gone any more"),
        (0, _foreign_module, "os is not one of"),
        (1, lambda s: s.update(initialize=True), "'{rule}' is now a rule"),
    ],
)
def test_program_that_no_longer_applies_says_so(
    planted_program: dict[str, Any], step: int, change: Any, message: str
) -> None:
    """(c) An unknown rule, a changed argument list, a value that no longer decodes: a clear
    ProgramDoesNotApply naming it, never a pass or a skip."""
    with pytest.raises(ProgramDoesNotApply, match="no longer applies") as caught:
        replay(_edited(planted_program, step, change), breaker_machine(RESILIENCE))
    # (which rule a step calls depends on the shrunk program, which any edit of the machine
    # can change: the message names the step's own rule)
    assert message.format(rule=planted_program["steps"][step]["rule"]) in str(caught.value)


def test_dangling_reference_and_wrong_machine_are_refused(planted_program: dict[str, Any]) -> None:
    finish = {"rule": "finish_call", "args": {"held": {"$ref": "held_7"}, "outcome": "success"}}
    program = {**planted_program, "steps": [*planted_program["steps"][:1], finish]}
    with pytest.raises(ProgramDoesNotApply, match="no step of the replay returned held_7"):
        replay(program, breaker_machine(RESILIENCE))
    with pytest.raises(ProgramDoesNotApply, match="a program of machine 'breaker', not 'tiny'"):
        replay(planted_program, Tiny)
    with pytest.raises(ProgramDoesNotApply, match="has no target 'nope'"):
        replay({**planted_program, "target": "nope"})


def test_load_refuses_what_is_not_a_program(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else", "machine": "x", "steps": [], "failure": null}')
    with pytest.raises(ProgramError, match="this suite reads"):
        load(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ProgramError, match="JSON object"):
        load(bad)


# ---------------------------------------------------------------------------------- every machine

# One target per machine (both flavours where the machine has two): each records a short run,
# and that run's program replays to a pass, without the engine.
MACHINES = [
    ("breaker", RESILIENCE.name),
    ("bulkhead", "sync"),
    ("bulkhead", "async"),
    ("chain", "resilience"),
    ("pool", "sync"),
    ("pool", "async"),
    ("ratelimit", "sliding_log"),
]


@pytest.mark.parametrize(("machine", "target"), MACHINES)
def test_every_machine_records_a_replayable_trace(machine: str, target: str) -> None:
    cls = catalog.machine_class(machine, target)
    with recording(True):
        run_state_machine_as_test(
            cls, settings=settings(QUICK, max_examples=4, phases=[Phase.generate])
        )
    recorded = last_trace(cls)
    assert recorded is not None
    assert recorded.broken is None
    program = json.loads(trace.dumps(program_from_trace(cls, recorded)))
    assert (program["machine"], program["target"]) == (machine, target)
    result = replay(program)
    assert result.steps == len(program["steps"]) > 1


def test_recording_can_be_switched_off() -> None:
    cls = breaker_machine(RESILIENCE)
    with recording(False):
        run_state_machine_as_test(
            cls, settings=settings(QUICK, max_examples=1, phases=[Phase.generate])
        )
    assert last_trace(cls) is None


# ---------------------------------------------------------------------------------- the codec


@dataclass(frozen=True)
class _Local:
    x: int


@dataclass
class _Mutable:
    x: int


SPECS = {
    "BreakerCase": breaker_cases(),
    **{f"LimitCase[{a}]": limit_cases(a) for a in sorted(LIMITER_TARGETS)},
    "PoolSpec": pool_specs(),
    "BulkheadSpec": bulkhead_specs(),
    "ChainSpec": chain_specs(),
    "list[OpStep]": op_scripts,
    "RetrySpec": retry_specs(),
    "list[Attempt]": retry_scripts(),
    "limiter keys": st.sampled_from(LIMITER_KEYS),
    "tuples, None, bools": st.tuples(st.integers(), st.text(max_size=3), st.none(), st.booleans()),
    "Fraction": st.fractions(),
    "float": st.floats(),
    "dict": st.dictionaries(st.one_of(st.integers(), st.text(max_size=2)), st.integers()),
    "frozenset": st.frozensets(st.integers(), max_size=3),
    "enum": st.sampled_from(list(BreakerState)),
    "sentinel": st.just(BULKHEAD_DEFAULT),
}


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_spec_type_round_trips_through_json(kind: str) -> None:
    """(d) BreakerCase, LimitCase, PoolSpec, BulkheadSpec, ChainSpec (RetrySpec, LimitSpec,
    BreakerSpec inside), OpStep and Attempt lists, limiter keys, Fractions, tuples, enums, the
    DEFAULT sentinel: encode, JSON text, decode gives an equal value of the same type."""

    @settings(max_examples=12, derandomize=True, database=None, deadline=None)
    @given(SPECS[kind])
    def round_trip(value: Any) -> None:
        back = decode(json.loads(json.dumps(encode(value))))
        if isinstance(value, float) and value != value:
            assert back != back
            return
        assert back == value
        assert type(back) is type(value)
        if isinstance(value, list | tuple):
            assert [type(item) for item in back] == [type(item) for item in value]
        if value is BULKHEAD_DEFAULT:
            assert back is value

    round_trip()


def test_codec_refuses_what_it_cannot_name() -> None:
    with pytest.raises(CodecError, match="cannot be named"):
        encode(_Local(1))  # a test module is not among ALLOWED_MODULES
    with pytest.raises(CodecError, match="mutable"):
        encode(_Mutable(1))
    with pytest.raises(CodecError, match="no JSON form"):
        encode(object())
    assert encode({"$x": 1}) == {"$dict": [["$x", 1]]}
    assert decode(encode({"$x": 1})) == {"$x": 1}
    assert encode(Ref("held_3")) == {"$ref": "held_3"}
    assert decode({"$ref": "held_3"}).bundle == "held"
    assert decode({"$fraction": "1/3"}) == Fraction(1, 3)
    with pytest.raises(CodecError, match="unknown tag"):
        decode({"$pickle": "..."})

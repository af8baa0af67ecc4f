"""The linearizability checker on histories written by hand: what it accepts, what it refuses,
where it partitions, what it reports, and that a search over budget says "unknown"."""

from __future__ import annotations

from collections.abc import Hashable

from properties.parallel.checker import (
    LINEARIZABLE,
    NOT_LINEARIZABLE,
    UNKNOWN,
    Deterministic,
    check,
)
from properties.parallel.history import PENDING, Call, Op
from properties.parallel.timeline import failure_report, timeline


class Register(Deterministic[tuple[tuple[Hashable, int], ...]]):
    """Registers per key, all 0 at first: ``write(key, value)``, ``read(key) -> value``."""

    def initial(self) -> tuple[tuple[Hashable, int], ...]:
        return ()

    def apply(self, state: tuple[tuple[Hashable, int], ...], op: Op) -> tuple[object, object]:
        values = dict(state)
        key = op.args[0]
        if op.name == "write":
            values[key] = op.args[1]  # type: ignore[assignment]
            return tuple(sorted(values.items(), key=repr)), None
        return state, values.get(key, 0)

    def partition(self, op: Op) -> Hashable | None:
        return op.args[0]


class Stamps(Deterministic[int]):
    """A global counter: ``tick()`` (every part) adds one, ``stamp(key)`` answers the count."""

    def initial(self) -> int:
        return 0

    def apply(self, state: int, op: Op) -> tuple[int, object]:
        return (state + 1, None) if op.name == "tick" else (state, state)

    def partition(self, op: Op) -> Hashable | None:
        return None if op.name == "tick" else op.args[0]


class Bag(Deterministic[frozenset[int]]):
    """``add(n)``; ``items() -> sorted tuple``."""

    def initial(self) -> frozenset[int]:
        return frozenset()

    def apply(self, state: frozenset[int], op: Op) -> tuple[frozenset[int], object]:
        if op.name == "add":
            return state | {op.args[0]}, None  # type: ignore[operator]
        return state, tuple(sorted(state))


def call(
    index: int, thread: int, op: Op, invoke: int, response: int | None, result: object
) -> Call:
    return Call(index, thread, op, invoke, response, result)


def history(*rows: tuple[int, str, tuple[object, ...], int, int | None, object]) -> list[Call]:
    """Rows of (thread, name, args, invoke, response, result)."""
    return [call(i, t, Op(n, a), inv, res, out) for i, (t, n, a, inv, res, out) in enumerate(rows)]


def test_a_sequential_history_that_follows_the_model_is_linearizable() -> None:
    calls = history((0, "write", ("x", 1), 0, 1, None), (0, "read", ("x",), 2, 3, 1))
    verdict = check(calls, Register())
    assert verdict.outcome == LINEARIZABLE
    assert verdict.ok is True
    assert [c.op.name for c in verdict.order] == ["write", "read"]


def test_a_read_overlapping_a_write_may_see_either_value() -> None:
    for seen in (0, 1):
        calls = history((1, "write", ("x", 1), 0, 3, None), (2, "read", ("x",), 1, 2, seen))
        assert check(calls, Register()).ok is True


def test_a_stale_read_after_a_newer_one_is_not_linearizable() -> None:
    calls = history(
        (1, "write", ("x", 1), 0, 5, None),
        (2, "read", ("x",), 1, 2, 1),  # sees the write: it took effect by position 2
        (3, "read", ("x",), 3, 4, 0),  # then a later read cannot see the old value
    )
    verdict = check(calls, Register())
    assert verdict.outcome == NOT_LINEARIZABLE
    assert verdict.ok is False
    assert len(verdict.order) == 2
    assert len(verdict.states) == 2
    assert verdict.states[-1] == (("x", 1),)


def test_the_real_time_order_is_respected() -> None:
    # The read answered before the write was invoked: it cannot see the write.
    calls = history((1, "read", ("x",), 0, 1, 1), (2, "write", ("x", 1), 2, 3, None))
    assert check(calls, Register()).ok is False


def test_a_pending_call_may_have_taken_effect_or_not() -> None:
    for seen in (0, 1):
        calls = history((1, "write", ("x", 1), 0, None, PENDING), (2, "read", ("x",), 1, 2, seen))
        assert check(calls, Register()).ok is True
    calls = history((1, "write", ("x", 1), 0, None, PENDING), (2, "read", ("x",), 1, 2, 7))
    assert check(calls, Register()).ok is False


def test_independent_keys_are_checked_apart() -> None:
    calls = history(
        (1, "write", ("x", 1), 0, 3, None),
        (2, "write", ("y", 2), 1, 4, None),
        (1, "read", ("x",), 5, 6, 1),
        (2, "read", ("y",), 5, 7, 2),
    )
    verdict = check(calls, Register())
    assert verdict.ok is True
    assert verdict.partitions == 2


def test_a_shared_operation_overlapping_others_prevents_partitioning() -> None:
    """Each key's part alone is linearizable, the whole is not: s1 must follow the tick, s2 must
    precede it, yet s1 answered before s2 was invoked. Partitioning here would be unsound."""
    calls = history(
        (1, "tick", (), 0, 9, None),
        (2, "stamp", ("a",), 1, 2, 1),
        (3, "stamp", ("b",), 3, 4, 0),
    )
    alone = [check([calls[0], part], Stamps()).ok for part in calls[1:]]
    assert alone == [True, True]
    verdict = check(calls, Stamps())
    assert verdict.ok is False
    assert verdict.partitions == 1


def test_a_shared_operation_on_its_own_is_copied_into_every_part() -> None:
    calls = history(
        (0, "tick", (), 0, 1, None),
        (1, "stamp", ("a",), 2, 4, 1),
        (2, "stamp", ("b",), 3, 5, 1),
    )
    verdict = check(calls, Stamps())
    assert verdict.ok is True
    assert verdict.partitions == 2


def test_a_search_over_budget_answers_unknown_never_linearizable() -> None:
    adds = [(i + 1, "add", (i,), i, 100 + i, None) for i in range(22)]
    impossible = (30, "items", (), 200, 201, ())  # every add finished before: () is impossible
    verdict = check(history(*adds, impossible), Bag(), budget=0.05)
    assert verdict.outcome == UNKNOWN
    assert verdict.ok is None
    assert verdict.explored > 0


def test_memoisation_refutes_a_wide_history_without_trying_every_order() -> None:
    """8 overlapping adds, then a read no order explains: every subset of adds is one memo entry
    (2^8 states, a few thousand steps); without the memo the search tries every order (8!)."""
    adds = [(i + 1, "add", (i,), i, 100 + i, None) for i in range(8)]
    impossible = (30, "items", (), 200, 201, ())
    verdict = check(history(*adds, impossible), Bag(), budget=5.0)
    assert verdict.ok is False
    assert verdict.explored < 5_000


def test_a_wide_linearizable_history_is_found_without_backing_up() -> None:
    adds = [(i + 1, "add", (i,), i, 100 + i, None) for i in range(22)]
    every = (30, "items", (), 200, 201, tuple(range(22)))
    verdict = check(history(*adds, every), Bag(), budget=5.0)
    assert verdict.ok is True
    assert verdict.explored == 23  # each call placed once, in order


def test_the_timeline_shows_each_call_on_its_thread_with_its_span() -> None:
    calls = history((1, "write", ("x", 1), 0, 3, None), (2, "read", ("x",), 1, 2, 0))
    shown = timeline(calls).splitlines()
    assert shown[1].split() == ["T1", "0", "3", "[--]", "write('x',", "1)", "->", "None"]
    assert shown[2].split() == ["T2", "1", "2", "[]", "read('x')", "->", "0"]


def test_the_failure_report_gives_the_prefix_states_and_what_cannot_follow() -> None:
    calls = history(
        (0, "write", ("x", 1), 0, 1, None),
        (1, "read", ("x",), 2, 3, 0),
    )
    report = failure_report(check(calls, Register()), describe=lambda s: f"<{s}>", title="reg")
    assert report.startswith("reg: not linearizable (2 calls, 1 part(s)")
    assert "longest linearizable prefix (1 of 2 calls):" in report
    assert "1. main write('x', 1) -> None" in report
    assert "state: <(('x', 1),)>" in report
    assert report.rstrip().endswith("T1 read('x') -> 0")


def test_a_failure_with_no_first_call_says_so() -> None:
    calls = history((1, "read", ("x",), 0, 1, 5))
    report = failure_report(check(calls, Register()))
    assert "(none: no call can go first)" in report

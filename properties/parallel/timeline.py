"""A history as a readable timeline, and a checker's failure as a report.

The timeline has one row per call, in invocation order, with the thread, the invoke and response
positions, a bar over the global order of events (``[`` invoked, ``]`` answered, ``-`` running;
columns are events, so overlap is exact), the operation and what it answered. The report adds
the longest linearizable prefix the checker found, with the model state after each call, and the
calls none of which could come next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from properties.parallel.checker import Verdict
from properties.parallel.history import Call

__all__ = ["failure_report", "timeline"]

_MAX_BAR = 100  # wider histories are shown without bars


def _who(thread: int) -> str:
    return "main" if thread == 0 else f"T{thread}"


def timeline(calls: Sequence[Call]) -> str:
    ordered = sorted(calls, key=lambda call: call.invoke)
    answered = {call.response for call in ordered if call.response is not None}
    points = sorted({call.invoke for call in ordered} | answered)
    column = {position: index for index, position in enumerate(points)}
    width = len(points)
    bars = width <= _MAX_BAR
    rows = []
    for call in ordered:
        start = column[call.invoke]
        end = width - 1 if call.response is None else column[call.response]
        bar = ""
        if bars:
            cells = [" "] * width
            for index in range(start, end + 1):
                cells[index] = "-"
            cells[start] = "["
            if call.response is not None:
                cells[end] = "]"
            bar = "".join(cells) + "  "
        response = "…" if call.response is None else str(call.response)
        where = f"{_who(call.thread):>4} {call.invoke:>4} {response:>4}"
        rows.append(f"{where}  {bar}{call.op} -> {call.result!r}")
    header = f"{'who':>4} {'inv':>4} {'res':>4}  " + ("events".ljust(width + 2) if bars else "")
    return "\n".join([header.rstrip() + "  operation -> result", *rows])


def failure_report(
    verdict: Verdict, describe: Callable[[Any], str] = repr, title: str = "history"
) -> str:
    """What a failing (or unknown) verdict means, for a person: the timeline of the calls that
    failed, then the longest linearizable prefix with the model's state after each call."""
    lines = [
        (
            f"{title}: {verdict.outcome} ({len(verdict.calls)} calls, {verdict.partitions} "
            f"part(s), {verdict.explored} model steps, {verdict.seconds * 1000:.1f} ms)"
        ),
        "",
        timeline(verdict.calls),
        "",
        f"longest linearizable prefix ({len(verdict.order)} of {len(verdict.calls)} calls):",
    ]
    if not verdict.order:
        lines.append("  (none: no call can go first)")
    for index, (call, state) in enumerate(zip(verdict.order, verdict.states, strict=True), 1):
        lines.append(f"  {index:>3}. {_who(call.thread)} {call}")
        lines.append(f"       state: {describe(state)}")
    done = {id(call) for call in verdict.order}
    stuck = [call for call in verdict.calls if id(call) not in done]
    if stuck and verdict.outcome != "unknown":
        lines.append("not linearizable after it (each call with the result it observed):")
        lines.extend(f"       {_who(call.thread)} {call}" for call in stuck)
    return "\n".join(lines)

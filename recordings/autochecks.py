"""Automatic QA checks computed from a call's script transcript (the items with ``auto:`` on a sheet).

Each check answers passed / failed / not applicable (None) with a reason and, where it helps, the
offset in seconds from call start, so the reviewer can jump to that point in the recording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flows.model import Flow
from flows.runtime import END, TranscriptEntry, checkpoint_statuses, reached_from_transcript


@dataclass(frozen=True)
class CallFacts:
    """What the checks read: the pinned script version and what the call recorded."""

    flow: Flow
    transcript: Sequence[TranscriptEntry]
    outcome: str | None
    wrap_up_seconds: float | None = None
    wrap_up_limit_seconds: float | None = None


@dataclass(frozen=True)
class CheckResult:
    passed: bool | None
    reason: str
    at: float | None = None


def _checkpoint(facts: CallFacts, within: int, what: str) -> CheckResult:
    reached = reached_from_transcript(facts.flow, facts.transcript)
    elapsed = facts.transcript[-1].at if facts.transcript else 0.0
    for status in checkpoint_statuses(facts.flow, reached, elapsed=elapsed, ended=True):
        if status.within == within:
            if status.status == "met":
                return CheckResult(True, f"{what} at {status.reached_at:.1f} s", status.reached_at)
            if status.status == "late":
                return CheckResult(
                    False, f"{what} only at {status.reached_at:.1f} s (within {within} s)", status.reached_at
                )
            return CheckResult(False, f"{what} never reached", None)
    return CheckResult(None, f"the script has no {within}-second checkpoint")


def opening_15s(facts: CallFacts) -> CheckResult:
    return _checkpoint(facts, 15, "who and why")


def benefit_45s(facts: CallFacts) -> CheckResult:
    return _checkpoint(facts, 45, "the benefit")


def no_step_skipped(facts: CallFacts) -> CheckResult:
    """Every screen entered follows from the answer chosen on the one before (no jumps)."""
    states = facts.flow.states
    stack: list[str] = []
    expected: str | None = facts.flow.start
    for entry in facts.transcript:
        if entry.kind in ("enter", "return"):
            if expected is not None and entry.state != expected:
                return CheckResult(False, f"entered `{entry.state}` where `{expected}` was due", entry.at)
            expected = None
        elif entry.kind == "objection":
            stack.append(entry.state)
            info = next((i for i in facts.flow.objections.values() if i.label == entry.label), None)
            expected = info.start if info else None
        elif entry.kind == "choose":
            option = next((o for o in states[entry.state].options if o.label == entry.label), None)
            if option is None:
                return CheckResult(False, f"answer `{entry.label}` is not on screen `{entry.state}`", entry.at)
            if option.kind == "to":
                expected = option.target
            elif option.kind == "return":
                expected = stack.pop() if stack else None
            else:
                expected = END
        elif entry.kind == "outcome" and expected not in (END, None):
            return CheckResult(False, f"the call ended while `{expected}` was due", entry.at)
        elif entry.kind == "restore":
            expected = None
    return CheckResult(True, "every screen followed from the answer before it")


def outcome_matches_last_step(facts: CallFacts) -> CheckResult:
    chosen = [e for e in facts.transcript if e.kind == "choose"]
    if facts.outcome is None:
        return CheckResult(False, "the call has no outcome (hung up before the script ended)")
    if not chosen:
        return CheckResult(False, "no answer was chosen")
    last = chosen[-1]
    option = next((o for o in facts.flow.states[last.state].options if o.label == last.label), None)
    if option is not None and option.kind == "outcome" and option.target == facts.outcome:
        return CheckResult(True, f"`{facts.outcome}` from `{last.label}`", last.at)
    return CheckResult(False, f"outcome `{facts.outcome}` does not follow from the last answer `{last.label}`", last.at)


def wrap_up_in_time(facts: CallFacts) -> CheckResult:
    if facts.wrap_up_seconds is None or facts.wrap_up_limit_seconds is None:
        return CheckResult(None, "no wrap-up time or limit recorded")
    if facts.wrap_up_seconds <= facts.wrap_up_limit_seconds:
        return CheckResult(True, f"wrap-up {facts.wrap_up_seconds:.0f} s (limit {facts.wrap_up_limit_seconds:.0f} s)")
    return CheckResult(
        False, f"wrap-up {facts.wrap_up_seconds:.0f} s over the limit of {facts.wrap_up_limit_seconds:.0f} s"
    )


CHECKS = {
    "opening_15s": opening_15s,
    "benefit_45s": benefit_45s,
    "no_step_skipped": no_step_skipped,
    "outcome_matches_last_step": outcome_matches_last_step,
    "wrap_up_in_time": wrap_up_in_time,
}


def run_checks(facts: CallFacts) -> dict[str, CheckResult]:
    return {name: check(facts) for name, check in CHECKS.items()}

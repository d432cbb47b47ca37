"""One call on one timeline: telephony events, script steps, checkpoints, outcome, recording.

Offsets are seconds from the customer's answer (negative for what happened while dialing), and each
script step also carries its position in the recording, so QA can play the audio from any step.
The dialer's rows are handed in as plain values (recordings does not import the dialer). PII is
shown masked unless the viewer may unmask; an unmasked replay is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flows.model import Flow
from flows.runtime import TranscriptEntry, checkpoint_statuses, reached_from_transcript, render_text
from recordings.autochecks import CallFacts, run_checks
from recordings.models import RecordingFile
from recordings.viewer import Viewer
from waihu.audit import AuditLog

Masker = Callable[[str, str], str]


@dataclass(frozen=True)
class TelephonyEvent:
    at: datetime
    kind: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallRecord:
    """What the dialer stored about one call."""

    call_id: str
    vendor_id: int | None
    work_id: str | None
    campaign_id: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    #: when the script run started (its transcript offsets count from here)
    flow_started_at: datetime | None
    transcript: Sequence[TranscriptEntry]
    events: Sequence[TelephonyEvent]
    variables: Mapping[str, str]
    captured: Mapping[str, Any]
    tags: Sequence[str] = ()
    wrap_up_seconds: float | None = None
    wrap_up_limit_seconds: float | None = None


def _show_captured(flow: Flow, captured: Mapping[str, Any], mask: Masker) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in captured.items():
        capture = flow.capture_fields.get(name)
        out[name] = mask(capture.pii.value, str(value)) if capture is not None and capture.pii else value
    return out


def assemble(
    flow: Flow,
    record: CallRecord,
    recording: RecordingFile | None,
    *,
    mask: Masker,
) -> dict[str, Any]:
    """The replay JSON of a call (pass an identity ``mask`` only for a viewer allowed to unmask)."""
    zero = record.answered_at or record.started_at

    def offset(moment: datetime) -> float:
        return round((moment - zero).total_seconds(), 3)

    flow_zero = offset(record.flow_started_at) if record.flow_started_at else 0.0
    answer_in_audio = recording.answer_offset if recording is not None else None
    timeline: list[dict[str, Any]] = []
    for event in record.events:
        timeline.append({"at": offset(event.at), "source": "telephony", "kind": event.kind, **dict(event.details)})
    for entry in record.transcript:
        at = round(flow_zero + entry.at, 3)
        item: dict[str, Any] = {"at": at, "source": "script", "kind": entry.kind, "state": entry.state}
        state = flow.states.get(entry.state)
        if state is not None:
            item["title"] = state.title
            if entry.kind in ("enter", "return"):
                item["text"] = render_text(flow, state.say, record.variables, record.captured, mask)
            if state.objection:
                item["objection"] = state.objection
        if entry.label is not None:
            item["label"] = entry.label
        if entry.values:
            item["values"] = _show_captured(flow, entry.values, mask)
        if answer_in_audio is not None:
            item["audio_at"] = round(answer_in_audio + at, 3)
        timeline.append(item)
    timeline.sort(key=lambda i: (i["at"], 0 if i["source"] == "telephony" else 1))
    elapsed = record.transcript[-1].at if record.transcript else 0.0
    reached = reached_from_transcript(flow, record.transcript)
    checkpoints = [
        {"id": c.id, "label": c.label, "within": c.within, "status": c.status, "reached_at": c.reached_at}
        for c in checkpoint_statuses(flow, reached, elapsed=elapsed, ended=True)
    ]
    facts = CallFacts(flow, record.transcript, record.outcome, record.wrap_up_seconds, record.wrap_up_limit_seconds)
    checks = {k: {"passed": r.passed, "reason": r.reason, "at": r.at} for k, r in run_checks(facts).items()}
    outcome = flow.outcomes.get(record.outcome) if record.outcome else None
    return {
        "call_id": record.call_id,
        "campaign_id": record.campaign_id,
        "vendor_id": record.vendor_id,
        "agent": record.work_id,
        "flow": {"id": flow.id, "version": flow.version, "digest": flow.digest, "title": flow.title},
        "started_at": record.started_at.isoformat(),
        "answered_at": record.answered_at.isoformat() if record.answered_at else None,
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "outcome": (
            {"code": record.outcome, "label": outcome.label, "category": outcome.category.value} if outcome else None
        ),
        "captured": _show_captured(flow, record.captured, mask),
        "customer_types": [
            {"code": t, "label": flow.customer_types[t].label} for t in record.tags if t in flow.customer_types
        ],
        "checkpoints": checkpoints,
        "checks": checks,
        "recording": (
            {
                "available": recording.deleted_at is None,
                "duration_seconds": recording.duration_seconds,
                "answer_offset": recording.answer_offset,
                "deleted_at": recording.deleted_at.isoformat() if recording.deleted_at else None,
            }
            if recording is not None
            else None
        ),
        "timeline": timeline,
    }


def _no_mask(kind: str, value: str) -> str:
    return value


async def replay(
    session: AsyncSession,
    audit: AuditLog,
    *,
    viewer: Viewer,
    flow: Flow,
    record: CallRecord,
    recording: RecordingFile | None,
    mask: Masker,
    unmask: bool = False,
    reason: str | None = None,
) -> dict[str, Any]:
    """The replay of a call for a viewer of its vendor; ``unmask`` (a permission the caller checked) is audited."""
    viewer.check(record.vendor_id, f"call {record.call_id}")
    if unmask:
        await audit.append(
            session,
            actor=viewer.work_id,
            action="pii.unmask",
            target=f"call:{record.call_id}",
            details={"what": "call replay", "reason": reason or ""},
        )
    return assemble(flow, record, recording, mask=_no_mask if unmask else mask)

"""Compliance gates: may this lead be dialed now, and if not, why and until when.

Each gate is a pure function of the facts it needs and returns :data:`ALLOW` or a refusal with a
stable reason code and the earliest time it could pass (``until``; None means never: DNC, refusal,
no consent, out of attempts). :func:`check_lead` gathers the facts from the database and runs them
all. :func:`record_outcome` is the other half: it keeps the call record the gates read (one
:class:`~dialer.models.CallAttempt` per dial, across campaigns), adds a ``do_not_call`` outcome's
number to the DNC list, and schedules the lead's next attempt from the campaign's retry rules.

Callbacks are appointments: a customer who asks to be called back at a time is called at that time.
The call is scheduled at the promised time even when it was promised on the lead's last allowed
attempt — the callback dial may then exceed ``max_attempts`` by one, and only by one (a callback
asked for on that extra dial is not honoured: the lead is exhausted) — and the minimum gap between
attempts does not delay it. A promised time outside the calling window (in the lead's zone) moves
to the window's next opening. Every other gate still holds for the callback dial: DNC, refusal,
consent, the calling window, the daily cap across campaigns and the quiet period after an
abandoned call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.dnc import add_to_dnc, is_listed
from dialer.models import CallAttempt, Campaign, Lead

__all__ = [
    "ALLOW",
    "DEFAULT_POLICY",
    "FINAL_CATEGORIES",
    "CompliancePolicy",
    "GateResult",
    "abandon_gate",
    "attempts_gate",
    "callback_pending",
    "calling_window_gate",
    "check_lead",
    "consent_gate",
    "daily_cap_gate",
    "dnc_gate",
    "lead_zone",
    "min_gap_gate",
    "next_window_start",
    "record_outcome",
    "refusal_gate",
]

#: outcome categories after which a lead is not called again in its campaign
FINAL_CATEGORIES: Final = frozenset({"success", "contact", "wrong_party"})


@dataclass(frozen=True, slots=True)
class CompliancePolicy:
    """Site-wide limits (the campaign's own rules come from the campaign row)."""

    #: dials to one number per local calendar day, all campaigns together
    max_calls_per_number_per_day: int = 2
    #: no dial to a number within this long after an abandoned call to it
    abandon_quiet_period: timedelta = timedelta(hours=72)
    #: the zone of a lead with none of its own and a campaign with none
    default_timezone: str = "Asia/Shanghai"

    @classmethod
    def from_settings(cls, settings: object) -> CompliancePolicy:
        """The site's policy: ``timezone``, and the optional settings ``max_calls_per_number_per_day`` and
        ``abandon_quiet_hours`` where the settings define them (the defaults otherwise)."""
        return cls(
            max_calls_per_number_per_day=int(getattr(settings, "max_calls_per_number_per_day", 2)),
            abandon_quiet_period=timedelta(hours=float(getattr(settings, "abandon_quiet_hours", 72))),
            default_timezone=str(getattr(settings, "timezone", "Asia/Shanghai")),
        )


DEFAULT_POLICY: Final = CompliancePolicy()


@dataclass(frozen=True, slots=True)
class GateResult:
    """Allowed, or which gate refused, why (a stable code), and from when the lead may pass it."""

    allowed: bool
    gate: str | None = None
    reason: str | None = None
    #: the earliest time the refusal may lift; None with a refusal: never
    until: datetime | None = None
    #: every refusal found by check_lead (the first permanent one, or the latest ``until``, is the headline)
    refusals: tuple[GateResult, ...] = field(default=(), compare=False)

    @property
    def permanent(self) -> bool:
        return not self.allowed and self.until is None


ALLOW: Final = GateResult(True)


def _refuse(gate: str, reason: str, until: datetime | None = None) -> GateResult:
    return GateResult(False, gate, reason, until)


def _parse_hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def next_window_start(now: datetime, windows: Sequence[Sequence[str]], zone: ZoneInfo) -> datetime:
    """The next start of a calling window after ``now`` (UTC), in the zone's local days."""
    local = now.astimezone(zone)
    starts = sorted(_parse_hhmm(w[0]) for w in windows)
    for days in range(0, 8):
        day = local.date() + timedelta(days=days)
        for start in starts:
            candidate = datetime.combine(day, start, tzinfo=zone)
            if candidate > local:
                return candidate.astimezone(now.tzinfo)
    raise ValueError("no calling window")  # unreachable with at least one window


def calling_window_gate(now: datetime, windows: Sequence[Sequence[str]], zone: ZoneInfo) -> GateResult:
    """Inside a window (start inclusive, end exclusive) in the lead's local time, or refused until the next one."""
    local = now.astimezone(zone).time().replace(tzinfo=None)
    for start, end in windows:
        if _parse_hhmm(start) <= local < _parse_hhmm(end):
            return ALLOW
    return _refuse("calling_window", "outside_calling_window", next_window_start(now, windows, zone))


def dnc_gate(listed: bool) -> GateResult:
    """A number on the internal DNC list is never dialed."""
    return _refuse("dnc", "on_dnc_list") if listed else ALLOW


def refusal_gate(refused_before: bool) -> GateResult:
    """A customer who refused explicitly in this campaign is not called again in it."""
    return _refuse("refusal", "refused_before") if refused_before else ALLOW


def consent_gate(required: bool, consent: bool) -> GateResult:
    """When the campaign requires consent, a lead without it is never dialed."""
    return _refuse("consent", "no_consent") if required and not consent else ALLOW


def attempts_gate(attempts: int, max_attempts: int, *, callback: bool = False) -> GateResult:
    """At most ``max_attempts`` dials per lead; a callback the customer asked for may be one more."""
    cap = max_attempts + 1 if callback else max_attempts
    return _refuse("attempts", "max_attempts_reached") if attempts >= cap else ALLOW


def min_gap_gate(
    last_attempt_at: datetime | None, now: datetime, min_gap: timedelta, *, callback: bool = False
) -> GateResult:
    """At least ``min_gap`` between two dials of a lead, unless the customer asked to be called back sooner."""
    if callback or last_attempt_at is None or now >= last_attempt_at + min_gap:
        return ALLOW
    return _refuse("min_gap", "too_soon_after_last_attempt", last_attempt_at + min_gap)


def daily_cap_gate(calls_today: int, cap: int, now: datetime, zone: ZoneInfo) -> GateResult:
    """At most ``cap`` dials to one number per local day, across all campaigns; refused until local midnight."""
    if calls_today < cap:
        return ALLOW
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return _refuse("daily_cap", "daily_call_cap_reached", datetime.combine(tomorrow, time(0), tzinfo=zone))


def abandon_gate(last_abandoned_at: datetime | None, now: datetime, quiet: timedelta) -> GateResult:
    """No dial within ``quiet`` (72 h) of an abandoned call to the number; allowed again at exactly 72 h."""
    if last_abandoned_at is None or now >= last_abandoned_at + quiet:
        return ALLOW
    return _refuse("abandon", "recent_abandoned_call", last_abandoned_at + quiet)


def lead_zone(lead: Lead, campaign: Campaign, policy: CompliancePolicy = DEFAULT_POLICY) -> ZoneInfo:
    """The lead's own zone, else the campaign's, else the site default."""
    return ZoneInfo(lead.timezone or campaign.timezone or policy.default_timezone)


def _local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


async def callback_pending(session: AsyncSession, lead: Lead) -> bool:
    """The lead's last call ended in a callback it still waits for (the lead is dialable)."""
    if lead.status != "dialable" or lead.last_attempt_at is None:
        return False
    last = await session.scalar(
        select(CallAttempt.outcome_category)
        .where(CallAttempt.lead_id == lead.id)
        .order_by(CallAttempt.started_at.desc(), CallAttempt.id.desc())
        .limit(1)
    )
    return last == "callback"


async def check_lead(
    session: AsyncSession,
    lead: Lead,
    campaign: Campaign,
    now: datetime,
    policy: CompliancePolicy = DEFAULT_POLICY,
) -> GateResult:
    """Run every gate for one lead; the result names the refusing gate and until when (None: never).

    With several refusals, a permanent one wins; otherwise the one lifting last, so the caller
    can schedule the lead at ``until`` and check again then.
    """
    rules = campaign.retry_rules or {}
    zone = lead_zone(lead, campaign, policy)
    # a due callback (an appointment) passes the attempts cap (by one) and the minimum gap; nothing else.
    # Whether one is due costs a query: asked only when one of those two gates would refuse.
    max_attempts = int(rules.get("max_attempts", 3))
    min_gap = timedelta(minutes=int(rules.get("min_gap_minutes", 60)))
    attempts, gap = attempts_gate(lead.attempts, max_attempts), min_gap_gate(lead.last_attempt_at, now, min_gap)
    if (not attempts.allowed or not gap.allowed) and await callback_pending(session, lead):
        attempts = attempts_gate(lead.attempts, max_attempts, callback=True)
        gap = min_gap_gate(lead.last_attempt_at, now, min_gap, callback=True)
    results = [
        consent_gate(campaign.consent_required, lead.consent),
        _refuse("lead_status", f"lead_{lead.status}") if lead.status != "dialable" else ALLOW,
        attempts,
        gap,
        calling_window_gate(now, campaign.calling_windows, zone),
    ]
    results.append(dnc_gate(await is_listed(session, lead.phone_hash)))
    refused = await session.scalar(
        select(func.count())
        .select_from(CallAttempt)
        .where(
            CallAttempt.campaign_id == campaign.id,
            CallAttempt.phone_hash == lead.phone_hash,
            CallAttempt.outcome_category == "refused",
        )
    )
    results.append(refusal_gate(bool(refused)))
    calls_today = await session.scalar(
        select(func.count())
        .select_from(CallAttempt)
        .where(CallAttempt.phone_hash == lead.phone_hash, CallAttempt.started_at >= _local_midnight(now, zone))
    )
    results.append(daily_cap_gate(int(calls_today or 0), policy.max_calls_per_number_per_day, now, zone))
    abandoned = (
        await session.execute(
            select(CallAttempt.started_at, CallAttempt.ended_at)
            .where(CallAttempt.phone_hash == lead.phone_hash, CallAttempt.abandoned.is_(True))
            .order_by(CallAttempt.started_at.desc())
            .limit(1)
        )
    ).first()
    last_abandoned = (abandoned.ended_at or abandoned.started_at) if abandoned is not None else None
    results.append(abandon_gate(last_abandoned, now, policy.abandon_quiet_period))
    refusals = tuple(r for r in results if not r.allowed)
    if not refusals:
        return ALLOW
    permanent = [r for r in refusals if r.until is None]
    headline = permanent[0] if permanent else max(refusals, key=lambda r: r.until or now)
    return GateResult(False, headline.gate, headline.reason, headline.until, refusals)


def _delay(rules: dict[str, Any], key: str | None) -> timedelta:
    delays = rules.get("delays_minutes") or {}
    minutes = int(delays.get(key, delays.get("no_contact", 60))) if key else int(delays.get("no_contact", 60))
    return timedelta(minutes=max(minutes, int(rules.get("min_gap_minutes", 60))))


async def record_outcome(
    session: AsyncSession,
    lead: Lead,
    campaign: Campaign,
    *,
    result: str,
    started_at: datetime,
    ended_at: datetime | None = None,
    call_id: str | None = None,
    cause: str | None = None,
    outcome: str | None = None,
    outcome_category: str | None = None,
    abandoned: bool = False,
    callback_at: datetime | None = None,
    policy: CompliancePolicy = DEFAULT_POLICY,
) -> CallAttempt:
    """Keep the call record, apply DNC / refusal, and schedule the lead's next attempt. The caller commits.

    ``result`` is how the dial ended (answered, busy, no_answer, machine, failed, abandoned);
    ``outcome`` and its ``outcome_category`` come from the pinned script when the call reached an
    agent. A ``do_not_call`` outcome puts the number on the DNC list at once (source ``call``).
    A ``callback`` is scheduled at ``callback_at`` (moved to the next calling window if outside one;
    now if already past), even on the last allowed attempt (see the module doc); without a time, after
    the campaign's callback delay.
    """
    attempt = CallAttempt(
        lead_id=lead.id,
        campaign_id=campaign.id,
        phone_hash=lead.phone_hash,
        started_at=started_at,
        ended_at=ended_at,
        result=result,
        cause=cause,
        outcome=outcome,
        outcome_category=outcome_category,
        abandoned=abandoned,
        call_id=call_id,
    )
    session.add(attempt)
    rules = campaign.retry_rules or {}
    max_attempts = int(rules.get("max_attempts", 3))
    end = ended_at or started_at
    lead.attempts += 1
    lead.last_attempt_at = started_at
    lead.last_outcome = outcome or result
    if outcome_category == "do_not_call":
        await add_to_dnc(session, lead.phone_hash, source="call", added_by="system", reason=outcome, call_id=call_id)
        lead.status = "dnc"
    elif outcome_category == "refused":
        lead.status = "refused"
    elif outcome_category in FINAL_CATEGORIES:
        lead.status = "done"
    elif outcome_category == "callback" and lead.attempts <= max_attempts:
        # an appointment: honoured on the last allowed attempt too (its dial is then attempt max + 1)
        if callback_at is None:
            lead.next_attempt_at = end + _delay(rules, "callback")
        else:
            due = max(callback_at, end)
            window = calling_window_gate(due, campaign.calling_windows, lead_zone(lead, campaign, policy))
            lead.next_attempt_at = window.until if window.until is not None else due
    elif lead.attempts >= max_attempts:
        lead.status = "exhausted"
    else:
        lead.next_attempt_at = end + _delay(rules, outcome_category or result)
    if abandoned and lead.status == "dialable":
        lead.next_attempt_at = max(lead.next_attempt_at, started_at + policy.abandon_quiet_period)
    await session.flush()
    return attempt

"""Compliance gates, each at its boundaries, and check_lead over the call records of every campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.compliance import (
    ALLOW,
    GateResult,
    abandon_gate,
    attempts_gate,
    calling_window_gate,
    check_lead,
    consent_gate,
    daily_cap_gate,
    min_gap_gate,
    record_outcome,
)
from dialer.dnc import add_to_dnc
from dialer.models import DEFAULT_CALLING_WINDOWS, CallAttempt, Campaign, DncEntry, Lead
from tests.dialer.factories import T0, World, add_leads, make_campaign, make_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
WINDOWS = [list(w) for w in DEFAULT_CALLING_WINDOWS]


def local(zone: ZoneInfo, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A local wall-clock time in ``zone`` on 2026-11-<day>, as UTC."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize("zone", [SHANGHAI, NEW_YORK], ids=["shanghai", "new_york"])
@pytest.mark.parametrize(
    ("hms", "allowed", "until_hm"),
    [
        ((8, 59, 59), False, (27, 9, 0)),
        ((9, 0, 0), True, None),
        ((11, 59, 59), True, None),
        ((12, 0, 0), False, (27, 13, 30)),
        ((13, 29, 59), False, (27, 13, 30)),
        ((13, 30, 0), True, None),
        ((19, 59, 59), True, None),
        ((20, 0, 0), False, (28, 9, 0)),
        ((0, 0, 0), False, (27, 9, 0)),
    ],
)
def test_calling_window_edges_in_the_leads_zone(
    zone: ZoneInfo, hms: tuple[int, int, int], allowed: bool, until_hm: tuple[int, int, int] | None
) -> None:
    result = calling_window_gate(local(zone, 27, *hms), WINDOWS, zone)
    assert result.allowed is allowed
    if until_hm is None:
        assert result == ALLOW
    else:
        assert (result.gate, result.reason) == ("calling_window", "outside_calling_window")
        assert result.until == local(zone, *until_hm)


def test_the_same_instant_is_inside_for_one_zone_and_outside_for_another() -> None:
    instant = local(SHANGHAI, 27, 10)  # 10:00 in Shanghai is 21:00 the day before in New York
    assert calling_window_gate(instant, WINDOWS, SHANGHAI).allowed
    refused = calling_window_gate(instant, WINDOWS, NEW_YORK)
    assert not refused.allowed
    assert refused.until == local(NEW_YORK, 27, 9)


def test_abandon_quiet_period_is_72_hours_exactly() -> None:
    quiet = timedelta(hours=72)
    assert abandon_gate(None, T0, quiet) == ALLOW
    refused = abandon_gate(T0, T0 + quiet - timedelta(seconds=1), quiet)
    assert (refused.allowed, refused.reason, refused.until) == (False, "recent_abandoned_call", T0 + quiet)
    assert abandon_gate(T0, T0 + quiet, quiet) == ALLOW


def test_attempts_cap() -> None:
    assert attempts_gate(2, 3) == ALLOW
    capped = attempts_gate(3, 3)
    assert (capped.allowed, capped.reason, capped.permanent) == (False, "max_attempts_reached", True)


def test_minimum_gap() -> None:
    gap = timedelta(minutes=60)
    assert min_gap_gate(None, T0, gap) == ALLOW
    refused = min_gap_gate(T0, T0 + gap - timedelta(seconds=1), gap)
    assert (refused.allowed, refused.until) == (False, T0 + gap)
    assert min_gap_gate(T0, T0 + gap, gap) == ALLOW


def test_daily_cap_lifts_at_local_midnight() -> None:
    assert daily_cap_gate(1, 2, T0, SHANGHAI) == ALLOW
    refused = daily_cap_gate(2, 2, T0, SHANGHAI)
    assert (refused.allowed, refused.until) == (False, local(SHANGHAI, 28, 0))


def test_consent() -> None:
    assert consent_gate(False, False) == ALLOW
    assert consent_gate(True, True) == ALLOW
    refused = consent_gate(True, False)
    assert (refused.allowed, refused.reason, refused.permanent) == (False, "no_consent", True)


PHONE = "13800138000"


async def _lead(world: World, campaign: Campaign, **fields: object) -> Lead:
    (lead,) = await add_leads(world, campaign.id, [PHONE], **fields)
    return lead


async def _check(world: World, lead_id: int, campaign_id: int, now: datetime) -> GateResult:
    async with world.factory() as session:
        lead = await session.get(Lead, lead_id)
        campaign = await session.get(Campaign, campaign_id)
        assert lead is not None
        assert campaign is not None
        return await check_lead(session, lead, campaign, now)


async def _record(world: World, lead_id: int, campaign_id: int, **kwargs: object) -> None:
    async with world.factory() as session, session.begin():
        lead = await session.get(Lead, lead_id)
        campaign = await session.get(Campaign, campaign_id)
        assert lead is not None
        assert campaign is not None
        await record_outcome(session, lead, campaign, **kwargs)  # type: ignore[arg-type]


async def test_a_fresh_lead_in_the_window_passes(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    campaign = await make_campaign(world)
    lead = await _lead(world, campaign)
    assert await _check(world, lead.id, campaign.id, T0) == ALLOW


async def test_daily_cap_counts_calls_to_the_number_across_campaigns(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    first = await make_campaign(world, name="first")
    second = await make_campaign(world, name="second", retry_rules={"max_attempts": 5, "min_gap_minutes": 0})
    a = await _lead(world, first)
    b = await _lead(world, second)
    yesterday_evening = local(SHANGHAI, 26, 19, 30)
    await _record(world, a.id, first.id, result="no_answer", started_at=yesterday_evening)
    await _record(world, a.id, first.id, result="busy", started_at=local(SHANGHAI, 27, 0, 0, 0))
    assert await _check(world, b.id, second.id, T0) == ALLOW  # one call today, yesterday's does not count
    await _record(world, b.id, second.id, result="no_answer", started_at=local(SHANGHAI, 27, 9, 5))
    refused = await _check(world, b.id, second.id, T0)
    assert (refused.allowed, refused.gate, refused.until) == (False, "daily_cap", local(SHANGHAI, 28, 0))


async def test_check_lead_reports_attempts_and_min_gap(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world, retry_rules={"max_attempts": 2, "min_gap_minutes": 90})
    lead = await _lead(world, campaign)
    await _record(world, lead.id, campaign.id, result="no_answer", started_at=T0)
    refused = await _check(world, lead.id, campaign.id, T0 + timedelta(minutes=89))
    assert (refused.gate, refused.until) == ("min_gap", T0 + timedelta(minutes=90))
    assert (await _check(world, lead.id, campaign.id, T0 + timedelta(minutes=90))) == ALLOW
    await _record(world, lead.id, campaign.id, result="no_answer", started_at=T0 + timedelta(minutes=90))
    capped = await _check(world, lead.id, campaign.id, T0 + timedelta(days=1))
    assert capped.permanent
    assert {r.gate for r in capped.refusals} >= {"attempts", "lead_status"}


async def test_no_recall_within_72_hours_of_an_abandoned_call(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    first = await make_campaign(world, name="first")
    second = await make_campaign(world, name="second")
    a = await _lead(world, first)
    b = await _lead(world, second)
    await _record(
        world, a.id, first.id, result="abandoned", started_at=T0, ended_at=T0 + timedelta(seconds=3), abandoned=True
    )
    quiet_end = T0 + timedelta(seconds=3) + timedelta(hours=72)
    refused = await _check(world, b.id, second.id, quiet_end - timedelta(seconds=1))
    assert (refused.gate, refused.until) == ("abandon", quiet_end)
    assert await _check(world, b.id, second.id, quiet_end) == ALLOW  # 10:00:03 local, inside the window
    async with world.factory() as session:
        again = await session.get(Lead, a.id)
        assert again is not None
        assert again.next_attempt_at >= T0 + timedelta(hours=72)


async def test_do_not_call_outcome_adds_the_number_to_the_dnc_list(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    first = await make_campaign(world, name="first")
    second = await make_campaign(world, name="second")
    a = await _lead(world, first)
    b = await _lead(world, second)
    flow = world.registry.get("edu-survey-invite", 1)
    dnc_code = next(code for code, o in flow.outcomes.items() if o.category.value == "do_not_call")
    await _record(
        world,
        a.id,
        first.id,
        result="answered",
        started_at=T0,
        call_id="call-1",
        outcome=dnc_code,
        outcome_category="do_not_call",
    )
    async with world.factory() as session:
        entry = (await session.scalars(select(DncEntry))).one()
        assert (entry.phone_hash, entry.source, entry.call_id) == (a.phone_hash, "call", "call-1")
        lead = await session.get(Lead, a.id)
        assert lead is not None
        assert lead.status == "dnc"
    refused = await _check(world, b.id, second.id, T0 + timedelta(days=5))
    assert (refused.gate, refused.permanent) == ("dnc", True)


async def test_explicit_refusal_stops_recalls_in_that_campaign(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    first = await make_campaign(world, name="first")
    second = await make_campaign(world, name="second")
    a = await _lead(world, first)
    b = await _lead(world, second)
    await _record(world, a.id, first.id, result="answered", started_at=T0, outcome="no", outcome_category="refused")
    later = T0 + timedelta(days=5)
    refused = await _check(world, a.id, first.id, later)
    assert refused.permanent
    assert "refusal" in {r.gate for r in refused.refusals}
    assert await _check(world, b.id, second.id, later) == ALLOW


async def test_consent_required_campaign_never_dials_a_lead_without_consent(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world, consent_required=True)
    (without,) = await add_leads(world, campaign.id, ["13800138001"])
    (with_consent,) = await add_leads(world, campaign.id, ["13800138002"], consent=True)
    refused = await _check(world, without.id, campaign.id, T0)
    assert (refused.gate, refused.permanent) == ("consent", True)
    assert await _check(world, with_consent.id, campaign.id, T0) == ALLOW


async def test_lead_timezone_overrides_the_campaigns(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    (lead,) = await add_leads(world, campaign.id, [PHONE], timezone="America/New_York")
    refused = await _check(world, lead.id, campaign.id, T0)  # 21:00 in New York
    assert (refused.gate, refused.until) == ("calling_window", local(NEW_YORK, 27, 9))


# -- callbacks: a customer's appointment is kept ----------------------------------------------------


async def _lead_state(world: World, lead_id: int) -> Lead:
    async with world.factory() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


async def _two_earlier_attempts(world: World, lead_id: int, campaign_id: int) -> None:
    """Attempts 1 and 2 on earlier days (so the daily cap of today is untouched)."""
    for days in (2, 1):
        await _record(world, lead_id, campaign_id, result="no_answer", started_at=T0 - timedelta(days=days))


async def test_given_the_last_allowed_attempt_when_a_callback_is_promised_then_it_is_kept_at_the_promised_time(
    engine: AsyncEngine,
) -> None:
    world = await make_world(engine)
    campaign = await make_campaign(world)  # max_attempts 3, min gap 60 min
    lead = await _lead(world, campaign)
    await _two_earlier_attempts(world, lead.id, campaign.id)
    promised = T0 + timedelta(minutes=20)
    await _record(
        world,
        lead.id,
        campaign.id,
        result="answered",
        started_at=T0,
        ended_at=T0 + timedelta(minutes=2),
        outcome="callback",
        outcome_category="callback",
        callback_at=promised,
    )
    after = await _lead_state(world, lead.id)
    assert (after.status, after.attempts, after.next_attempt_at) == ("dialable", 3, promised)
    # due: the attempts cap (3) and the 60-minute gap let the appointment through
    assert await _check(world, lead.id, campaign.id, promised) == ALLOW
    # the callback dial is the one extra attempt: unanswered, the lead is exhausted
    await _record(world, lead.id, campaign.id, result="no_answer", started_at=promised)
    assert (await _lead_state(world, lead.id)).status == "exhausted"


async def test_given_a_callback_dial_beyond_the_cap_when_another_callback_is_asked_then_the_lead_is_exhausted(
    sqlite_engine: AsyncEngine,
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    lead = await _lead(world, campaign)
    await _two_earlier_attempts(world, lead.id, campaign.id)
    for minutes in (0, 20):
        await _record(
            world,
            lead.id,
            campaign.id,
            result="answered",
            started_at=T0 + timedelta(minutes=minutes),
            outcome_category="callback",
            callback_at=T0 + timedelta(minutes=minutes + 20),
        )
    after = await _lead_state(world, lead.id)
    assert (after.status, after.attempts) == ("exhausted", 4)  # max_attempts + 1 at most


async def test_given_an_early_attempt_when_a_callback_in_20_minutes_is_promised_then_min_gap_does_not_push_it(
    sqlite_engine: AsyncEngine,
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    lead = await _lead(world, campaign)
    promised = T0 + timedelta(minutes=20)
    await _record(
        world, lead.id, campaign.id, result="answered", started_at=T0, outcome_category="callback", callback_at=promised
    )
    assert (await _lead_state(world, lead.id)).next_attempt_at == promised
    assert await _check(world, lead.id, campaign.id, promised) == ALLOW
    # an ordinary retry still waits out the minimum gap
    await _record(world, lead.id, campaign.id, result="no_answer", started_at=promised)
    refused = await _check(world, lead.id, campaign.id, promised + timedelta(minutes=30))
    assert "min_gap" in {r.gate for r in refused.refusals}


@pytest.mark.parametrize(
    ("promised_local", "expected_local"),
    [((12, 30), (27, 13, 30)), ((21, 0), (28, 9, 0)), ((11, 0), (27, 11, 0))],
    ids=["lunch_break", "evening", "inside"],
)
async def test_given_a_promised_time_outside_the_window_when_recorded_then_the_window_opening_is_used(
    sqlite_engine: AsyncEngine, promised_local: tuple[int, int], expected_local: tuple[int, int, int]
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    lead = await _lead(world, campaign)
    await _record(
        world,
        lead.id,
        campaign.id,
        result="answered",
        started_at=T0,
        outcome_category="callback",
        callback_at=local(SHANGHAI, 27, *promised_local),
    )
    assert (await _lead_state(world, lead.id)).next_attempt_at == local(SHANGHAI, *expected_local)


async def test_given_a_callback_promised_in_the_past_when_recorded_then_it_is_due_at_once(
    sqlite_engine: AsyncEngine,
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    lead = await _lead(world, campaign)
    end = T0 + timedelta(minutes=3)
    await _record(
        world,
        lead.id,
        campaign.id,
        result="answered",
        started_at=T0,
        ended_at=end,
        outcome_category="callback",
        callback_at=T0 - timedelta(hours=1),
    )
    assert (await _lead_state(world, lead.id)).next_attempt_at == end


@pytest.mark.parametrize("gate", ["dnc", "refusal", "calling_window", "daily_cap", "abandon"])
async def test_given_a_due_callback_when_another_gate_refuses_then_it_still_refuses(
    sqlite_engine: AsyncEngine, gate: str
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    other = await make_campaign(world, name="other", retry_rules={"max_attempts": 5, "min_gap_minutes": 0})
    lead = await _lead(world, campaign)
    (elsewhere,) = await add_leads(world, other.id, [PHONE])
    await _two_earlier_attempts(world, lead.id, campaign.id)
    promised = T0 + timedelta(minutes=20)
    now = promised
    if gate == "refusal":  # an explicit refusal in this campaign, kept apart from this lead's own calls
        async with world.factory() as session, session.begin():
            session.add(
                CallAttempt(
                    lead_id=None,
                    campaign_id=campaign.id,
                    phone_hash=lead.phone_hash,
                    started_at=T0 - timedelta(days=3),
                    result="answered",
                    outcome_category="refused",
                )
            )
    await _record(
        world, lead.id, campaign.id, result="answered", started_at=T0, outcome_category="callback", callback_at=promised
    )
    if gate == "dnc":
        async with world.factory() as session, session.begin():
            await add_to_dnc(session, lead.phone_hash, source="manual", added_by="L1", reason="complaint")
    elif gate == "calling_window":
        now = local(SHANGHAI, 27, 12, 10)
    elif gate == "daily_cap":  # a second call to the number today, in another campaign
        await _record(world, elsewhere.id, other.id, result="no_answer", started_at=T0 + timedelta(minutes=5))
    elif gate == "abandon":
        await _record(
            world, elsewhere.id, other.id, result="abandoned", started_at=T0 + timedelta(minutes=5), abandoned=True
        )
    refused = await _check(world, lead.id, campaign.id, now)
    assert not refused.allowed
    gates = {r.gate for r in refused.refusals}
    assert gate in gates
    assert not gates & {"attempts", "min_gap"}  # the appointment itself passes those

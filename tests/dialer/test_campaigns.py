"""Campaigns: the script pinned at creation, agent assignment rules, the state machine, the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer.campaigns import assign_agents, parse_windows, safe_harbor_text, set_state
from dialer.errors import AgentAssignmentError, CampaignError, CampaignNotFound, CampaignStateError
from dialer.models import Campaign, CampaignAgent
from tests.dialer.factories import make_campaign, make_world
from waihu.models import AuditEntry


async def test_create_pins_the_script_and_applies_defaults(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    campaign = await make_campaign(world, agents=["A1", "A2"])
    flow = world.registry.get("edu-survey-invite", 1)
    async with world.factory() as session:
        stored = await session.get(Campaign, campaign.id)
        assert stored is not None
        assert (stored.flow_id, stored.flow_version, stored.flow_digest) == (flow.id, 1, flow.digest)
        assert stored.state == "draft"
        assert stored.calling_windows == [["09:00", "12:00"], ["13:30", "20:00"]]
        assert stored.timezone == "Asia/Shanghai"
        assert stored.max_abandon_rate == pytest.approx(0.03)
        assert stored.retry_rules["max_attempts"] == 3
        assert stored.retry_rules["min_gap_minutes"] == 60
        agents = (await session.scalars(select(CampaignAgent.work_id).order_by(CampaignAgent.work_id))).all()
        assert list(agents) == ["A1", "A2"]
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "campaign.create"))).one()
        assert entry.target == f"campaign:{campaign.id}"
        assert flow.digest in entry.details
        assert (await world.audit.verify(session)).ok


async def test_create_without_version_pins_the_newest(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world, flow="mobile-newspaper-trial")
    assert campaign.flow_version == world.registry.get("mobile-newspaper-trial").version


@pytest.mark.parametrize(
    ("kwargs", "error_id"),
    [
        ({"flow": "no-such-script@1"}, "dialer.flow_not_found"),
        ({"flow": "edu-survey-invite@99"}, "dialer.flow_not_found"),
        ({"vendor_id": 999}, "dialer.vendor_not_found"),
        ({"dial_mode": "blaster"}, "dialer.campaign_invalid"),
        ({"max_abandon_rate": 0.0}, "dialer.campaign_invalid"),
        ({"timezone": "Mars/Olympus"}, "dialer.campaign_invalid"),
        ({"calling_windows": [["12:00", "09:00"]]}, "dialer.campaign_invalid"),
        ({"retry_rules": {"max_attempts": 0}}, "dialer.campaign_invalid"),
        ({"retry_rules": {"bogus": 1}}, "dialer.campaign_invalid"),
    ],
)
async def test_create_refuses_bad_settings(sqlite_engine: AsyncEngine, kwargs: dict[str, Any], error_id: str) -> None:
    world = await make_world(sqlite_engine)
    with pytest.raises(CampaignError) as info:
        await make_campaign(world, **kwargs)
    assert info.value.error_id == error_id


async def test_duplicate_name_is_refused(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    await make_campaign(world, name="same")
    with pytest.raises(CampaignError, match="exists already"):
        await make_campaign(world, name="same")


@pytest.mark.parametrize(
    ("work_id", "training", "match"),
    [
        ("X1", False, "another vendor"),
        ("Q1", False, "only agent and trainee"),
        ("T1", False, "trainees work only in training campaigns"),
        ("NOPE", False, "no work ID"),
    ],
)
async def test_agents_must_fit_the_campaign(
    sqlite_engine: AsyncEngine, work_id: str, training: bool, match: str
) -> None:
    world = await make_world(sqlite_engine)
    with pytest.raises(AgentAssignmentError, match=match):
        await make_campaign(world, agents=[work_id], training=training)


async def test_trainees_join_training_campaigns(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world, training=True, agents=["T1"])
    async with world.factory() as session, session.begin():
        added = await assign_agents(session, world.audit, campaign.id, ["A1", "T1"], actor="L1")
    assert added == ["A1"]


async def test_state_machine_allows_the_documented_paths(engine: AsyncEngine) -> None:
    world = await make_world(engine)
    campaign = await make_campaign(world)
    async with world.factory() as session, session.begin():
        for target in ("running", "paused", "running", "paused", "stopped"):
            assert (await set_state(session, world.audit, campaign.id, target, actor="L1")).state == target
    async with world.factory() as session:
        actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all()
        assert list(actions) == [
            "campaign.create",
            "campaign.running",
            "campaign.paused",
            "campaign.running",
            "campaign.paused",
            "campaign.stopped",
        ]
        assert (await world.audit.verify(session)).ok


@pytest.mark.parametrize(
    ("path", "target", "allowed"),
    [
        ((), "paused", "running"),
        ((), "completed", "running"),
        (("running", "completed"), "running", "nowhere"),
        (("running", "stopped"), "paused", "nowhere"),
        (("running",), "draft", "paused, stopped, completed"),
    ],
)
async def test_other_transitions_are_refused_naming_the_allowed_ones(
    sqlite_engine: AsyncEngine, path: tuple[str, ...], target: str, allowed: str
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(world)
    async with world.factory() as session, session.begin():
        for step in path:
            await set_state(session, world.audit, campaign.id, step, actor="L1")
    async with world.factory() as session, session.begin():
        with pytest.raises(CampaignStateError, match=allowed) as info:
            await set_state(session, world.audit, campaign.id, target, actor="L1")
    assert info.value.error_id == "dialer.campaign_state"


async def test_unknown_campaign(sqlite_engine: AsyncEngine) -> None:
    world = await make_world(sqlite_engine)
    async with world.factory() as session:
        with pytest.raises(CampaignNotFound):
            await set_state(session, world.audit, 42, "running", actor="L1")


def test_windows_are_checked_and_sorted() -> None:
    assert parse_windows([["13:30", "20:00"], ["09:00", "12:00"]]) == [["09:00", "12:00"], ["13:30", "20:00"]]
    for bad in ([["9:00", "12:00"]], [["09:00"]], [["24:00", "25:00"]], []):
        with pytest.raises(CampaignError):
            parse_windows(bad)


# -- the safe-harbor message ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"safe_harbor_message": "这里是{vendor}"}, "unknown placeholder {vendor}"),
        ({"safe_harbor_message": "这里是{company!r}"}, "unknown placeholder {company!r}"),
        ({"safe_harbor_message": "请拨打{callback_number:>20}"}, "unknown placeholder"),
        ({"safe_harbor_message": "这里是{company"}, "malformed placeholder"),
        ({"safe_harbor_message": "这里是}company"}, "malformed placeholder"),
        ({"safe_harbor_message": "请拨打{callback_number}"}, "has no callback_number"),
        ({"safe_harbor_message": "x" * 501, "callback_number": "10086"}, "longer than 500"),
        ({"callback_number": "call us"}, "callback_number must be a phone number"),
    ],
)
async def test_given_a_bad_safe_harbor_setting_when_created_then_refused_saying_how_to_fix_it(
    sqlite_engine: AsyncEngine, kwargs: dict[str, Any], says: str
) -> None:
    world = await make_world(sqlite_engine)
    with pytest.raises(CampaignError) as info:
        await make_campaign(world, **kwargs)
    assert info.value.error_id == "dialer.campaign_invalid"
    assert says in str(info.value)


async def test_given_placeholders_when_created_then_the_text_names_the_scripts_brand_and_the_number(
    sqlite_engine: AsyncEngine,
) -> None:
    world = await make_world(sqlite_engine)
    campaign = await make_campaign(
        world,
        flow="mobile-newspaper-trial@1",
        safe_harbor_message="您好，这里是{company}，稍后再联系您，回电请拨{callback_number}。{{谢谢}}",
        callback_number="10086",
        dial_mode="predictive",
    )
    assert safe_harbor_text(campaign, "无锡移动") == "您好，这里是无锡移动，稍后再联系您，回电请拨10086。{谢谢}"


async def test_given_no_message_when_played_then_the_default_names_the_company_and_the_callback_number(
    sqlite_engine: AsyncEngine,
) -> None:
    world = await make_world(sqlite_engine)
    with_number = await make_campaign(world, name="with", callback_number=" 0510-8888 8888 ")
    without = await make_campaign(world, name="without", dial_mode="predictive")  # allowed: the sentence is left out
    assert with_number.callback_number == "0510-8888 8888"
    assert safe_harbor_text(with_number, "赣州新概念教育") == (
        "您好，这里是赣州新概念教育。非常抱歉，现在没有空闲的客服接听您的电话，我们稍后再与您联系。"
        "如需咨询，请拨打0510-8888 8888。谢谢，再见。"
    )
    text = safe_harbor_text(without, "赣州新概念教育")
    assert (
        text == "您好，这里是赣州新概念教育。非常抱歉，现在没有空闲的客服接听您的电话，我们稍后再与您联系。谢谢，再见。"
    )
    assert "{" not in text
    assert "safe-harbor" not in text


def test_given_a_message_stored_before_the_checks_when_played_then_it_plays_as_written() -> None:
    legacy = Campaign(safe_harbor_message="这里是{旧占位}", callback_number=None)
    assert safe_harbor_text(legacy, "无锡移动") == "这里是{旧占位}"

"""Campaign use cases: create (with the script pinned), assign agents, move through the states.

States: ``draft → running ⇄ paused → stopped / completed`` (a running campaign may also stop or
complete directly). Every change is audited in the caller's transaction; the caller commits, so
the change and its audit entry persist together or not at all.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.models import User, Vendor
from dialer.errors import AgentAssignmentError, CampaignError, CampaignNotFound, CampaignStateError
from dialer.models import (
    CAMPAIGN_STATES,
    DEFAULT_CALLING_WINDOWS,
    DIAL_MODES,
    Campaign,
    CampaignAgent,
    default_retry_rules,
)
from flows import FlowError, FlowRegistry
from flows.registry import parse_ref
from waihu.audit import AuditLog
from waihu.db import utcnow

__all__ = [
    "ALLOWED_TRANSITIONS",
    "CALLING_ROLES",
    "DEFAULT_SAFE_HARBOR",
    "SAFE_HARBOR_PLACEHOLDERS",
    "assign_agents",
    "check_callback_number",
    "check_safe_harbor",
    "create_campaign",
    "get_campaign",
    "parse_windows",
    "safe_harbor_text",
    "set_state",
]

#: the state machine of a campaign; stopped and completed are final
ALLOWED_TRANSITIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "draft": ("running",),
    "running": ("paused", "stopped", "completed"),
    "paused": ("running", "stopped", "completed"),
    "stopped": (),
    "completed": (),
}
CALLING_ROLES: Final = ("agent", "trainee")
_HHMM: Final = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
#: what a safe-harbor message may name: the company the customer was called for (the pinned script's
#: ``brand``, the name the agent would have introduced) and the campaign's call-back number
SAFE_HARBOR_PLACEHOLDERS: Final = ("company", "callback_number")
#: the message an abandoned customer hears when the campaign has none of its own; the call-back sentence
#: is left out when the campaign has no call-back number
DEFAULT_SAFE_HARBOR: Final = "您好，这里是{company}。非常抱歉，现在没有空闲的客服接听您的电话，我们稍后再与您联系。"
DEFAULT_SAFE_HARBOR_CALLBACK: Final = "如需咨询，请拨打{callback_number}。"
DEFAULT_SAFE_HARBOR_END: Final = "谢谢，再见。"
_SAFE_HARBOR_MAX: Final = 500
_CALLBACK_NUMBER: Final = re.compile(r"^\+?[0-9][0-9 -]{1,30}$")


def check_callback_number(number: str | None) -> str | None:
    """The campaign's call-back number (digits, optional leading +, spaces or hyphens), or None."""
    if number is None or not number.strip():
        return None
    number = number.strip()
    if not _CALLBACK_NUMBER.fullmatch(number):
        raise CampaignError(
            "callback_number must be a phone number the customer can dial: digits, optionally a leading +, "
            "spaces or hyphens (e.g. 10086 or 0510-12345678)",
            details={"field": "callback_number"},
        )
    return number


def check_safe_harbor(message: str | None, callback_number: str | None) -> str | None:
    """A campaign's own safe-harbor message, checked: placeholders are ``{company}`` and
    ``{callback_number}`` (``{{`` and ``}}`` for literal braces); ``{callback_number}`` needs a call-back
    number. None (or blank): the default message is played."""
    if message is None or not message.strip():
        return None
    message = message.strip()
    fix = "use {company} and {callback_number}, or write {{ and }} for literal braces"
    if len(message) > _SAFE_HARBOR_MAX:
        raise CampaignError(
            f"the safe-harbor message is longer than {_SAFE_HARBOR_MAX} characters; keep it short (it plays to a "
            "customer nobody could take)",
            details={"field": "safe_harbor_message"},
        )
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(message) if name is not None]
    except ValueError as exc:
        raise CampaignError(
            f"the safe-harbor message has a malformed placeholder ({exc}); {fix}",
            details={"field": "safe_harbor_message"},
        ) from None
    for name, spec, conv in fields:
        if name not in SAFE_HARBOR_PLACEHOLDERS or spec or conv:
            shown = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise CampaignError(
                f"the safe-harbor message has an unknown placeholder {shown}; {fix}",
                details={"field": "safe_harbor_message", "placeholder": name},
            )
        if name == "callback_number" and callback_number is None:
            raise CampaignError(
                "the safe-harbor message names {callback_number} but the campaign has no callback_number; "
                "set one, or leave the placeholder out",
                details={"field": "safe_harbor_message"},
            )
    return message


def safe_harbor_text(campaign: Campaign, company: str) -> str:
    """What an abandoned customer hears: the campaign's own message with its placeholders filled, else
    the default naming ``company`` (the pinned script's brand) and, when the campaign has one, the
    call-back number."""
    values = {"company": company.strip(), "callback_number": campaign.callback_number or ""}
    if campaign.safe_harbor_message:
        try:
            return campaign.safe_harbor_message.format_map(values)
        except (KeyError, ValueError, IndexError):  # a message stored before placeholders were checked
            return campaign.safe_harbor_message
    parts = [DEFAULT_SAFE_HARBOR]
    if campaign.callback_number:
        parts.append(DEFAULT_SAFE_HARBOR_CALLBACK)
    parts.append(DEFAULT_SAFE_HARBOR_END)
    return "".join(parts).format_map(values)


def parse_windows(windows: Iterable[Sequence[str]]) -> list[list[str]]:
    """Check calling windows (``[["09:00", "12:00"], ...]``, local times, start before end)."""
    out: list[list[str]] = []
    for window in windows:
        if len(window) != 2 or not all(isinstance(t, str) and _HHMM.match(t) for t in window):
            raise CampaignError(
                f"calling window {list(window)!r} is not [HH:MM, HH:MM]",
                details={"field": "calling_windows"},
            )
        start, end = window
        if start >= end:
            raise CampaignError(
                f"calling window {start}–{end} ends before it starts", details={"field": "calling_windows"}
            )
        out.append([start, end])
    if not out:
        raise CampaignError("a campaign needs at least one calling window", details={"field": "calling_windows"})
    return sorted(out)


def _retry_rules(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    rules = default_retry_rules()
    for key, value in (overrides or {}).items():
        if key == "delays_minutes":
            if not isinstance(value, Mapping) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
            ):
                raise CampaignError("retry delays must be minutes ≥ 0", details={"field": "retry_rules"})
            rules["delays_minutes"].update({str(k): int(v) for k, v in value.items()})
        elif key in ("max_attempts", "min_gap_minutes"):
            low = 1 if key == "max_attempts" else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise CampaignError(f"retry rule {key} must be an integer ≥ {low}", details={"field": "retry_rules"})
            rules[key] = value
        else:
            raise CampaignError(
                f"unknown retry rule {key!r}; known: max_attempts, min_gap_minutes, delays_minutes",
                details={"field": "retry_rules"},
            )
    return rules


async def get_campaign(session: AsyncSession, campaign: int | str) -> Campaign:
    """A campaign by id, or by name (a string that is not all digits)."""
    if isinstance(campaign, int) or campaign.isdigit():
        found = await session.get(Campaign, int(campaign))
    else:
        found = (await session.scalars(select(Campaign).where(Campaign.name == campaign))).first()
    if found is None:
        raise CampaignNotFound(f"no campaign {campaign!r}", details={"campaign": str(campaign)})
    return found


async def _check_agents(session: AsyncSession, campaign: Campaign, work_ids: Sequence[str]) -> None:
    wanted = list(dict.fromkeys(work_ids))
    if not wanted:
        return
    users = {u.work_id: u for u in (await session.scalars(select(User).where(User.work_id.in_(wanted)))).all()}
    for work_id in wanted:
        user = users.get(work_id)
        if user is None:
            raise AgentAssignmentError(f"no work ID {work_id}", details={"work_id": work_id})
        if user.status != "active":
            raise AgentAssignmentError(f"work ID {work_id} is {user.status}", details={"work_id": work_id})
        if user.vendor_id != campaign.vendor_id:
            raise AgentAssignmentError(
                f"work ID {work_id} belongs to another vendor than the campaign's",
                details={"work_id": work_id, "vendor_id": user.vendor_id, "campaign_vendor_id": campaign.vendor_id},
            )
        if user.role not in CALLING_ROLES:
            raise AgentAssignmentError(
                f"work ID {work_id} has role {user.role}; only {' and '.join(CALLING_ROLES)} take calls",
                details={"work_id": work_id, "role": user.role},
            )
        if user.role == "trainee" and not campaign.training:
            raise AgentAssignmentError(
                f"work ID {work_id} is a trainee: trainees work only in training campaigns (simulator)",
                details={"work_id": work_id, "role": user.role},
            )


async def create_campaign(
    session: AsyncSession,
    *,
    registry: FlowRegistry,
    audit: AuditLog,
    name: str,
    vendor_id: int,
    flow: str,
    created_by: str,
    agents: Sequence[str] = (),
    dial_mode: str = "progressive",
    max_abandon_rate: float = 0.03,
    calling_windows: Iterable[Sequence[str]] = DEFAULT_CALLING_WINDOWS,
    timezone: str = "Asia/Shanghai",
    retry_rules: Mapping[str, Any] | None = None,
    caller_id: str | None = None,
    consent_required: bool = False,
    training: bool = False,
    safe_harbor_message: str | None = None,
    callback_number: str | None = None,
    wrap_up_limit_seconds: int = 60,
    now: datetime | None = None,
) -> Campaign:
    """Create a draft campaign with its script pinned (``flow`` is ``id@version``, or ``id`` for the newest).

    ``safe_harbor_message`` may name ``{company}`` (the pinned script's brand) and ``{callback_number}``;
    without one, abandoned customers hear :data:`DEFAULT_SAFE_HARBOR` (see :func:`safe_harbor_text`).
    A campaign without a ``callback_number`` is allowed, in every dial mode: the default message then
    leaves the call-back sentence out.

    Pass ``timezone=settings.timezone`` for the site's zone. The caller commits.
    """
    name = name.strip()
    if not name:
        raise CampaignError("a campaign needs a name", details={"field": "name"})
    if dial_mode not in DIAL_MODES:
        raise CampaignError(
            f"dial mode {dial_mode!r} is unknown; choose one of {', '.join(DIAL_MODES)}",
            details={"field": "dial_mode"},
        )
    if not 0 < max_abandon_rate <= 1:
        raise CampaignError("max_abandon_rate must be in (0, 1], e.g. 0.03", details={"field": "max_abandon_rate"})
    if wrap_up_limit_seconds < 0:
        raise CampaignError("wrap_up_limit_seconds must be ≥ 0", details={"field": "wrap_up_limit_seconds"})
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignError(f"unknown time zone {timezone!r}", details={"field": "timezone"}) from None
    windows = parse_windows(calling_windows)
    rules = _retry_rules(retry_rules)
    callback_number = check_callback_number(callback_number)
    safe_harbor_message = check_safe_harbor(safe_harbor_message, callback_number)
    try:
        pinned = registry.get(*parse_ref(flow))
    except FlowError as exc:
        raise CampaignError(
            f"script {flow!r} cannot be used: {exc}", error_id="dialer.flow_not_found", details={"flow": flow}
        ) from None
    if await session.get(Vendor, vendor_id) is None:
        raise CampaignError(
            f"no vendor with id {vendor_id}", error_id="dialer.vendor_not_found", details={"vendor_id": vendor_id}
        )
    if (await session.scalars(select(Campaign.id).where(Campaign.name == name))).first() is not None:
        raise CampaignError(f"a campaign named {name!r} exists already", details={"field": "name"})
    at = now or utcnow()
    campaign = Campaign(
        name=name,
        vendor_id=vendor_id,
        flow_id=pinned.id,
        flow_version=pinned.version,
        flow_digest=pinned.digest,
        dial_mode=dial_mode,
        max_abandon_rate=max_abandon_rate,
        calling_windows=windows,
        timezone=timezone,
        retry_rules=rules,
        caller_id=caller_id,
        consent_required=consent_required,
        training=training,
        safe_harbor_message=safe_harbor_message,
        callback_number=callback_number,
        wrap_up_limit_seconds=wrap_up_limit_seconds,
        state="draft",
        created_by=created_by,
        created_at=at,
        updated_at=at,
    )
    await _check_agents(session, campaign, agents)
    session.add(campaign)
    await session.flush()
    for work_id in dict.fromkeys(agents):
        session.add(CampaignAgent(campaign_id=campaign.id, work_id=work_id))
    await session.flush()
    await audit.append(
        session,
        actor=created_by,
        action="campaign.create",
        target=f"campaign:{campaign.id}",
        details={
            "name": name,
            "flow": pinned.ref,
            "flow_digest": pinned.digest,
            "vendor_id": vendor_id,
            "dial_mode": dial_mode,
            "training": training,
            "agents": list(dict.fromkeys(agents)),
        },
    )
    return campaign


async def assign_agents(
    session: AsyncSession, audit: AuditLog, campaign_id: int, work_ids: Sequence[str], *, actor: str
) -> list[str]:
    """Add work IDs to a campaign (same vendor, agent or trainee; trainees only in training campaigns).

    Returns the IDs newly added; the caller commits.
    """
    campaign = await get_campaign(session, campaign_id)
    await _check_agents(session, campaign, work_ids)
    present = set(
        (await session.scalars(select(CampaignAgent.work_id).where(CampaignAgent.campaign_id == campaign.id))).all()
    )
    added = [w for w in dict.fromkeys(work_ids) if w not in present]
    for work_id in added:
        session.add(CampaignAgent(campaign_id=campaign.id, work_id=work_id))
    await session.flush()
    if added:
        await audit.append(
            session,
            actor=actor,
            action="campaign.assign_agents",
            target=f"campaign:{campaign.id}",
            details={"added": added},
        )
    return added


async def set_state(
    session: AsyncSession,
    audit: AuditLog,
    campaign_id: int,
    target: str,
    *,
    actor: str,
    now: datetime | None = None,
) -> Campaign:
    """Move a campaign to ``target`` if the state machine allows it; audited; the caller commits."""
    if target not in CAMPAIGN_STATES:
        raise CampaignStateError(
            f"unknown campaign state {target!r}; states are {', '.join(CAMPAIGN_STATES)}",
            details={"target": target},
        )
    campaign = await get_campaign(session, campaign_id)
    allowed = ALLOWED_TRANSITIONS[campaign.state]
    if target not in allowed:
        where = f"to {', '.join(allowed)}" if allowed else "nowhere (it is final)"
        raise CampaignStateError(
            f"campaign {campaign.id} is {campaign.state}: it cannot go to {target}; from {campaign.state} it can go "
            f"{where}",
            details={"campaign_id": campaign.id, "state": campaign.state, "target": target, "allowed": list(allowed)},
        )
    before = campaign.state
    campaign.state = target
    campaign.updated_at = now or utcnow()
    await session.flush()
    await audit.append(
        session,
        actor=actor,
        action=f"campaign.{target}",
        target=f"campaign:{campaign.id}",
        details={"from": before, "to": target},
    )
    return campaign

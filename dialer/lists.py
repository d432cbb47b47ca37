"""Lead lists: each import lands in a list of its campaign, which is worked or paused on its own.

An import names the list it adds to, or gets a new one named after its file (``leads.csv``, then
``leads.csv (2)`` for the next upload of a file of that name). A paused list's leads are not leased —
its promised callbacks neither — until it is resumed; the list's counts say how far it has been worked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.errors import CampaignError, LeadListNotFound
from dialer.models import LEAD_STATUSES, Lead, LeadList
from waihu.audit import AuditLog
from waihu.pii import mask_text

__all__ = [
    "NAME_MAX",
    "ListCounts",
    "clean_name",
    "dialable_lists",
    "first_free",
    "get_list",
    "list_counts",
    "open_list",
    "set_list_active",
]

NAME_MAX: Final = 128


@dataclass(frozen=True, slots=True)
class ListCounts:
    """A list and its leads by status (every status of ``LEAD_STATUSES``, zero included)."""

    list: LeadList
    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def first_free(name: str, taken: set[str]) -> str:
    """``name``, else the first of ``name (2)``, ``name (3)``… not in ``taken``."""
    number = 1
    while (candidate := name if number == 1 else f"{name} ({number})") in taken:
        number += 1
    return candidate


def clean_name(name: str) -> str:
    """A list name as stored: NFKC, spaces collapsed; refused when empty, too long or holding control characters."""
    cleaned = " ".join(unicodedata.normalize("NFKC", name).split())
    if not cleaned or len(cleaned) > NAME_MAX or any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise CampaignError(
            f"a lead list name needs 1 to {NAME_MAX} printable characters; got {len(cleaned)}",
            error_id="dialer.list_name",
            details={"max_length": NAME_MAX},
        )
    return cleaned


async def _named(session: AsyncSession, campaign_id: int, name: str) -> LeadList | None:
    return (
        await session.scalars(select(LeadList).where(LeadList.campaign_id == campaign_id, LeadList.name == name))
    ).first()


async def _add(session: AsyncSession, campaign_id: int, name: str, created_by: str | None, now: datetime) -> bool:
    """Insert a list in a savepoint; False when a list of that name exists (maybe made a moment ago elsewhere)."""
    try:
        async with session.begin_nested():
            made = LeadList(campaign_id=campaign_id, name=name, active=True, created_by=created_by, created_at=now)
            session.add(made)
        return True
    except IntegrityError:
        return False


async def open_list(
    session: AsyncSession,
    campaign_id: int,
    *,
    name: str | None,
    file_name: str,
    created_by: str | None,
    now: datetime,
) -> LeadList:
    """The list an import adds to: ``name``'s list (made if missing), or, without a name, a new list named after
    the file (the first free of ``file``, ``file (2)``, ``file (3)``…). Flushed, not committed."""
    if name is not None:
        wanted = clean_name(name)
        existing = await _named(session, campaign_id, wanted)
        if existing is None:
            await _add(session, campaign_id, wanted, created_by, now)
            existing = await _named(session, campaign_id, wanted)
        assert existing is not None  # added now, or by a concurrent import a moment ago
        return existing
    base = clean_name(file_name or "upload")[: NAME_MAX - 8]
    taken = set(
        (
            await session.scalars(
                select(LeadList.name).where(LeadList.campaign_id == campaign_id, LeadList.name.startswith(base))
            )
        ).all()
    )
    while True:
        candidate = first_free(base, taken)
        if await _add(session, campaign_id, candidate, created_by, now):
            made = await _named(session, campaign_id, candidate)
            assert made is not None
            return made
        taken.add(candidate)  # made a moment ago by a concurrent import


def dialable_lists(campaign_id: int) -> ColumnElement[bool]:
    """The condition a lead's list puts on its dialing: no list (never after migration 0011), or an active one."""
    paused = select(LeadList.id).where(LeadList.campaign_id == campaign_id, LeadList.active.is_(False))
    return or_(Lead.list_id.is_(None), Lead.list_id.not_in(paused))


async def list_counts(session: AsyncSession, campaign_id: int) -> list[ListCounts]:
    """The campaign's lists, oldest first, each with its leads by status."""
    lists = (
        await session.scalars(select(LeadList).where(LeadList.campaign_id == campaign_id).order_by(LeadList.id))
    ).all()
    rows = (
        await session.execute(  # by the lists' ids: the (list_id, status) index answers it alone
            select(Lead.list_id, Lead.status, func.count())
            .where(Lead.list_id.in_([item.id for item in lists]))
            .group_by(Lead.list_id, Lead.status)
        )
    ).all()
    counts: dict[int | None, dict[str, int]] = {}
    for list_id, status, n in rows:
        counts.setdefault(list_id, dict.fromkeys(LEAD_STATUSES, 0))[status] = int(n)
    return [ListCounts(item, counts.get(item.id, dict.fromkeys(LEAD_STATUSES, 0))) for item in lists]


async def get_list(session: AsyncSession, campaign_id: int, list_ref: int | str) -> LeadList:
    """A list of the campaign by id, or by name (a string that is not a number)."""
    query = select(LeadList).where(LeadList.campaign_id == campaign_id)
    as_id = list_ref if isinstance(list_ref, int) else (int(list_ref) if list_ref.isdigit() else None)
    query = query.where(LeadList.id == as_id) if as_id is not None else query.where(LeadList.name == list_ref)
    found = (await session.scalars(query)).first()
    if found is None:
        shown = mask_text(str(list_ref))  # what was typed may hold a number
        raise LeadListNotFound(
            f"campaign {campaign_id} has no lead list {shown!r}; `waihu leads lists {campaign_id}` lists them",
            details={"campaign_id": campaign_id, "list": shown},
        )
    return found


async def set_list_active(
    session: AsyncSession,
    audit: AuditLog,
    campaign_id: int,
    list_ref: int | str,
    *,
    active: bool,
    actor: str,
) -> LeadList:
    """Pause (``active=False``) or resume a list; audited when it changes. Leads already leased finish their call."""
    item = await get_list(session, campaign_id, list_ref)
    if item.active != active:
        await audit.append(
            session,
            actor=actor,
            action="lead_list.resume" if active else "lead_list.pause",
            target=f"lead_list:{item.id}",
            details={"campaign_id": campaign_id, "name": mask_text(item.name)},
        )
        item.active = active
        await session.flush()
    return item

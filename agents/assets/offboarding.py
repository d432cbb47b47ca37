"""Off-boarding (2.5): a leaving person hands back every item and document before the work ID is deleted.

The checklist is the assets the person holds (issued to them, in use, or under repair while theirs) and
the client's documents recorded as handed to them; a manager of the vendor checks each back (经各公司
管理人员认可). :func:`check_offboarding` is what the work-ID deletion (:mod:`agents.lifecycle`) waits
on: while anything is out, the deletion is postponed with an error naming what. The person's own work-ID
asset is not on the list: it is retired when the deletion takes effect. Services flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.assets.damage import Cause, DamageKind, record_damage
from agents.assets.registry import HELD, AssetState, get_asset, move_asset
from agents.context import AgentsContext
from agents.errors import NotFound, OffboardingIncomplete, RuleViolation
from agents.models import Asset, HandoverDocument, User
from agents.permissions import Actor, require_on

__all__ = [
    "Checklist",
    "OutstandingItem",
    "check_back_asset",
    "check_offboarding",
    "offboarding_checklist",
    "outstanding_for",
    "record_document",
    "retire_work_id_assets",
    "return_document",
]


@dataclass(frozen=True, slots=True)
class OutstandingItem:
    """Something the person still has: an asset (by tag) or a document (by title)."""

    kind: str  # asset / document
    id: int
    label: str


@dataclass(frozen=True, slots=True)
class Checklist:
    work_id: str
    outstanding: list[OutstandingItem]

    @property
    def complete(self) -> bool:
        return not self.outstanding


async def outstanding_for(session: AsyncSession, work_id: str) -> list[OutstandingItem]:
    """The items and documents ``work_id`` has not handed back (its own work-ID asset excluded)."""
    assets = (
        await session.execute(
            select(Asset)
            .where(Asset.holder_work_id == work_id, Asset.state.in_([s.value for s in HELD]))
            .order_by(Asset.tag)
        )
    ).scalars()
    documents = (
        await session.execute(
            select(HandoverDocument)
            .where(HandoverDocument.work_id == work_id, HandoverDocument.returned_at.is_(None))
            .order_by(HandoverDocument.issued_at, HandoverDocument.id)
        )
    ).scalars()
    items = [
        OutstandingItem("asset", a.id, f"{a.kind} {a.tag}")
        for a in assets
        if not (a.kind == "work_id" and a.work_id == work_id)
    ]
    items += [OutstandingItem("document", d.id, d.title) for d in documents]
    return items


async def _user(session: AsyncSession, work_id: str) -> User:
    user = await session.get(User, work_id)
    if user is None:
        raise NotFound(f"no work ID {work_id}", details={"work_id": work_id})
    return user


async def offboarding_checklist(session: AsyncSession, actor: Actor, work_id: str) -> Checklist:
    """What ``work_id`` still has to hand back (the vendor's managers, and the client, may look)."""
    user = await _user(session, work_id)
    require_on(actor, "offboarding.check", user.vendor_id)
    return Checklist(work_id, await outstanding_for(session, work_id))


async def check_offboarding(session: AsyncSession, work_id: str) -> None:
    """Raise :class:`OffboardingIncomplete` naming everything ``work_id`` has not handed back (2.5)."""
    outstanding = await outstanding_for(session, work_id)
    if outstanding:
        labels = [item.label for item in outstanding]
        raise OffboardingIncomplete(
            f"{work_id} cannot be deleted yet: not handed back: {'; '.join(labels)} (2.5)",
            details={
                "work_id": work_id,
                "outstanding": [{"kind": i.kind, "id": i.id, "label": i.label} for i in outstanding],
            },
        )


async def record_document(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, work_id: str, *, title: str, now: datetime
) -> HandoverDocument:
    """Record that a document of the client's (2.1: processes, business files) was handed to ``work_id``."""
    user = await _user(session, work_id)
    require_on(actor, "offboarding.check", user.vendor_id)
    if not title.strip():
        raise RuleViolation("name the document", error_id="agents.document_invalid")
    document = HandoverDocument(
        work_id=work_id, vendor_id=user.vendor_id, title=title.strip(), issued_by=actor.work_id, issued_at=now
    )
    session.add(document)
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="offboarding.document_issue",
        target=f"user:{work_id}",
        details={"document_id": document.id, "title": document.title},
    )
    return document


async def return_document(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, document_id: int, *, now: datetime
) -> HandoverDocument:
    """A manager checks a document back from its holder."""
    document = await session.get(HandoverDocument, document_id)
    if document is None:
        raise NotFound(f"no handover document {document_id}", details={"document_id": document_id})
    require_on(actor, "offboarding.check", document.vendor_id)
    if document.returned_at is not None:
        raise RuleViolation(f"document {document_id} is already handed back", error_id="agents.already_returned")
    if actor.work_id == document.work_id:
        raise RuleViolation("a manager, not the holder, checks a document back (2.5)", error_id="agents.sod")
    document.returned_at, document.checked_by = now, actor.work_id
    await session.flush()
    await ctx.audit.append(
        session,
        actor=actor.work_id,
        action="offboarding.document_return",
        target=f"user:{document.work_id}",
        details={"document_id": document_id},
    )
    return document


async def check_back_asset(
    ctx: AgentsContext,
    session: AsyncSession,
    actor: Actor,
    asset_id: int,
    *,
    now: datetime,
    condition: str = "ok",
    note: str | None = None,
) -> Asset:
    """A manager takes an asset back from its holder into the vendor's stock; ``damaged`` records the damage
    (the holder is the last user).
    """
    asset = await get_asset(session, asset_id, for_update=True)
    require_on(actor, "offboarding.check", asset.vendor_id)
    if asset.holder_work_id is None:
        raise RuleViolation(f"asset {asset.tag} is not held by anyone", error_id="agents.return_invalid")
    if actor.work_id == asset.holder_work_id:
        raise RuleViolation("a manager, not the holder, checks an item back (2.5)", error_id="agents.sod")
    if condition not in ("ok", "damaged"):
        raise RuleViolation("a returned item is ok or damaged", error_id="agents.return_invalid")
    holder = asset.holder_work_id
    if condition == "damaged":
        await record_damage(
            ctx,
            session,
            asset,
            actor=actor.work_id,
            kind=DamageKind.DAMAGE,
            cause=Cause.UNKNOWN,
            description=note or "returned damaged on leaving",
            occurred_at=now,
            now=now,
            vendor_id=asset.vendor_id,
            seat_id=asset.seat_id,
        )
    target = AssetState.ISSUED if asset.state == AssetState.IN_USE else AssetState(asset.state)
    await move_asset(
        ctx,
        session,
        asset,
        target,
        actor=actor.work_id,
        action="check_back",
        now=now,
        note=note or f"handed back by {holder}",
        seat_id=None,
        holder_work_id=None,
        force=target == AssetState(asset.state),
    )
    return asset


async def retire_work_id_assets(
    ctx: AgentsContext, session: AsyncSession, work_id: str, *, actor: str, now: datetime
) -> None:
    """When a work ID is deleted, the asset that stands for it is retired (``scrapped``)."""
    assets = (
        await session.execute(
            select(Asset).where(
                Asset.kind == "work_id",
                Asset.work_id == work_id,
                Asset.state.not_in([AssetState.SCRAPPED.value, AssetState.LOST.value]),
            )
        )
    ).scalars()
    for asset in list(assets):
        await move_asset(
            ctx,
            session,
            asset,
            AssetState.SCRAPPED,
            actor=actor,
            action="retire",
            now=now,
            note="work ID deleted",
            vendor_id=None,
            seat_id=None,
            holder_work_id=None,
            force=True,
        )

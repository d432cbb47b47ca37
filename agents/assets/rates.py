"""The monthly rates of 第十二条 and 第十三条 per vendor, each with the assets behind the number.

- IT-asset loss rate (月损耗率, 12.1, target below 1%): IT assets with a damage or loss record that
  month / IT assets the vendor held that month.
- Damage by people (人员损坏, 12.1, target 0): IT assets with a record whose cause is ``human``.
- Fixed-asset damage rate (13.1, target 0%): fixed assets with a damage or loss record / fixed assets held.

"Held" means the vendor answered for the asset (issued, in use or under repair) at some moment of the
month, read from the asset history; the month is the site-local calendar month. A record whose cause is
still ``unknown`` counts in the loss rate, not (yet) as damage by people.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.assets.registry import HELD, AssetState
from agents.context import AgentsContext
from agents.models import Asset, AssetEvent, DamageRecord
from agents.org import get_vendor
from agents.permissions import Actor, require

__all__ = ["LOSS_TARGET", "MonthRates", "RateAsset", "RateLine", "held_assets", "month_bounds", "month_rates"]

#: 12.1: the monthly loss rate of IT assets stays below 1%
LOSS_TARGET: Final = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class RateAsset:
    """One asset behind a number: its record(s) that month."""

    tag: str
    kind: str
    damage_ids: list[int]
    kinds: list[str]
    causes: list[str]
    last_work_ids: list[str | None]


@dataclass(frozen=True, slots=True)
class RateLine:
    """One rate: count / base, the target and whether it is met, the assets counted and the base's tags."""

    name: str
    count: int
    base: int
    rate: Decimal
    target: str
    met: bool
    assets: list[RateAsset]
    base_tags: list[str]


@dataclass(frozen=True, slots=True)
class MonthRates:
    vendor_id: int
    year: int
    month: int
    it_loss: RateLine
    human_damage: RateLine
    fixed_damage: RateLine


def month_bounds(ctx: AgentsContext, year: int, month: int) -> tuple[datetime, datetime]:
    """The site-local calendar month as UTC instants [start, end)."""
    zone = ctx.settings.zone
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


async def held_assets(session: AsyncSession, vendor_id: int, start: datetime, end: datetime) -> list[Asset]:
    """The assets the vendor held at some moment of [start, end), from their history."""
    ever = select(AssetEvent.asset_id).where(AssetEvent.vendor_id == vendor_id).distinct()
    events = (
        await session.execute(
            select(AssetEvent)
            .where(AssetEvent.asset_id.in_(ever), AssetEvent.at < end)
            .order_by(AssetEvent.asset_id, AssetEvent.at, AssetEvent.id)
        )
    ).scalars()
    by_asset: dict[int, list[AssetEvent]] = defaultdict(list)
    for event in events:
        by_asset[event.asset_id].append(event)
    held: set[int] = set()
    for asset_id, history in by_asset.items():
        for index, event in enumerate(history):
            if event.vendor_id != vendor_id or AssetState(event.to_state) not in HELD:
                continue
            until = history[index + 1].at if index + 1 < len(history) else end
            # held over [event.at, until): overlaps the month, or a held moment inside it
            if event.at < end and (until > start or event.at >= start):
                held.add(asset_id)
                break
    if not held:
        return []
    return list((await session.execute(select(Asset).where(Asset.id.in_(held)).order_by(Asset.tag))).scalars())


def _line(name: str, target: str, base: list[Asset], records: list[DamageRecord], *, limit: Decimal | None) -> RateLine:
    assets = {a.id: a for a in base}
    counted: dict[int, list[DamageRecord]] = defaultdict(list)
    for record in records:
        counted[record.asset_id].append(record)
    lines = [
        RateAsset(
            tag=assets[asset_id].tag if asset_id in assets else str(asset_id),
            kind=assets[asset_id].kind if asset_id in assets else "?",
            damage_ids=[r.id for r in recs],
            kinds=[r.kind for r in recs],
            causes=[r.cause for r in recs],
            last_work_ids=[r.last_work_id for r in recs],
        )
        for asset_id, recs in counted.items()
    ]
    lines.sort(key=lambda line: line.tag)
    count = len(counted)
    denominator = max(len(base), count)
    rate = (Decimal(count) / Decimal(denominator)).quantize(Decimal("0.0001")) if denominator else Decimal(0)
    met = rate < limit if limit is not None else count == 0
    return RateLine(name, count, denominator, rate, target, met, lines, sorted(a.tag for a in base))


async def month_rates(
    ctx: AgentsContext, session: AsyncSession, actor: Actor, *, vendor_id: int, year: int, month: int
) -> MonthRates:
    """The three rates of one vendor and month, with the assets behind each number."""
    require(actor, "asset.view", vendor_id=vendor_id)
    await get_vendor(session, vendor_id)
    start, end = month_bounds(ctx, year, month)
    base = await held_assets(session, vendor_id, start, end)
    records = list(
        (
            await session.execute(
                select(DamageRecord)
                .where(
                    DamageRecord.vendor_id == vendor_id,
                    DamageRecord.occurred_at >= start,
                    DamageRecord.occurred_at < end,
                )
                .order_by(DamageRecord.occurred_at, DamageRecord.id)
            )
        ).scalars()
    )
    record_assets = {
        a.id: a
        for a in (await session.execute(select(Asset).where(Asset.id.in_({r.asset_id for r in records})))).scalars()
    }
    base_ids = {a.id for a in base}
    # an asset with a record that month was the vendor's even if the history says otherwise: count it in the base
    base += [a for a in record_assets.values() if a.id not in base_ids]
    it = [a for a in base if a.category == "it"]
    fixed = [a for a in base if a.category == "fixed"]
    it_records = [r for r in records if record_assets[r.asset_id].category == "it"]
    fixed_records = [r for r in records if record_assets[r.asset_id].category == "fixed"]
    return MonthRates(
        vendor_id=vendor_id,
        year=year,
        month=month,
        it_loss=_line("it_loss_rate", "< 1%", it, it_records, limit=LOSS_TARGET),
        human_damage=_line("human_damage", "0", it, [r for r in it_records if r.cause == "human"], limit=None),
        fixed_damage=_line("fixed_damage_rate", "0%", fixed, fixed_records, limit=None),
    )

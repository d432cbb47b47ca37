"""Site operations (issue 9): assets, issue lists, daily inspections, damage and loss, monthly rates, off-boarding.

Work IDs only, never names; free text (notes, descriptions, document titles) is masked on the way out
because people type numbers into it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

#: a database id in a body: bounded so no request can overflow a 64-bit column
BodyId = Annotated[int, Field(ge=1, le=2**62)]
#: a work ID as agents.users.check_work_id accepts it
WorkId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")]
#: free text: no NUL (PostgreSQL refuses it in text columns)
Note = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\x00]+$")]
#: an amount in 元, as the Numeric(10, 2) columns hold it
Amount = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2, allow_inf_nan=False)]

AssetKind = Literal["computer", "monitor", "headset", "phone", "work_id", "desk", "chair", "cabinet"]
AssetStateName = Literal["in_stock", "issued", "in_use", "under_repair", "scrapped", "lost"]
DamageKindName = Literal["damage", "loss"]
CauseName = Literal["human", "wear", "unknown"]

_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    """Keep instants where calendar arithmetic cannot overflow (and a typo of the year is refused)."""
    if not _EARLIEST <= value < _LATEST:
        raise ValueError("a time between 2000 and 2099")
    return value.astimezone(UTC)


def _plausible_day(value: date) -> date:
    if not 2000 <= value.year < 2100:
        raise ValueError("a day between 2000 and 2099")
    return value


#: an instant with its offset (a naive time is refused: the site and UTC differ by 8 hours)
Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]
Day = Annotated[date, AfterValidator(_plausible_day)]


# --- assets -----------------------------------------------------------------------------------------


class AssetIn(BaseModel):
    """A new asset in the client's stock; a ``work_id`` asset names the work ID it stands for."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"tag": "PC-0012", "kind": "computer", "value": "4000.00", "description": "联想 M720"}]
        },
    )

    tag: str = Field(min_length=1, max_length=32, pattern=r"^[^\x00-\x1f\s][^\x00-\x1f]*$")
    kind: AssetKind
    value: Amount | None = None
    description: Note | None = None
    work_id: WorkId | None = None


class AssetOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "tag": "PC-0012",
                    "kind": "computer",
                    "category": "it",
                    "state": "in_use",
                    "vendor_id": 1,
                    "seat_id": 4,
                    "seat_code": "A-01",
                    "holder_work_id": None,
                    "work_id": None,
                    "value": "4000.00",
                    "description": "联想 M720",
                    "updated_at": "2026-11-27T01:00:00+00:00",
                }
            ]
        }
    )

    id: int
    tag: str
    kind: str
    category: str
    state: str
    vendor_id: int | None
    seat_id: int | None
    seat_code: str | None
    holder_work_id: str | None
    work_id: str | None
    value: Decimal | None
    description: str | None
    updated_at: datetime


class PlaceIn(BaseModel):
    """Put an issued asset to use: at one of the vendor's seats, with one of its people, or both."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"seat_id": 4}, {"holder_work_id": "A1001"}]}
    )

    seat_id: BodyId | None = None
    holder_work_id: WorkId | None = None


class AssetNoteIn(BaseModel):
    """Why: a note for the asset's history (needed to send to repair and to scrap)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "屏幕闪烁，送修"}]})

    note: Note | None = None


class AssetReasonIn(BaseModel):
    """Why (required): sending to repair, scrapping."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "主板损坏，无法修复"}]})

    note: Note


class LostIn(BaseModel):
    """An asset is lost: a loss record with its last user (the asset becomes ``lost``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"description": "交班时发现耳麦不见了", "occurred_at": "2026-11-27T10:00:00+08:00"}]
        },
    )

    description: Note
    cause: CauseName = "unknown"
    occurred_at: Instant | None = None
    seat_id: BodyId | None = None
    fault_id: BodyId | None = None


# --- issue lists ------------------------------------------------------------------------------------


class IssueListIn(BaseModel):
    """The client lists in-stock assets for a vendor; they are issued when the vendor's team lead confirms."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"vendor_id": 1, "asset_ids": [12, 13, 14], "note": "11月新增坐席"}]},
    )

    vendor_id: BodyId
    asset_ids: list[BodyId] = Field(min_length=1, max_length=500)
    note: Note | None = None


class RefusedItemIn(BaseModel):
    asset_id: BodyId
    reason: Note


class ConfirmIn(BaseModel):
    """The vendor's confirmation (16.1 签字确认): the stamped form's reference, and the items it does not accept."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"document_ref": "盖章-2026-031", "refused": [{"asset_id": 14, "reason": "屏幕有划痕"}]}]
        },
    )

    document_ref: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")
    refused: list[RefusedItemIn] = Field(default_factory=list, max_length=500)
    note: Note | None = None


class ReturnedItemIn(BaseModel):
    asset_id: BodyId
    condition: Literal["ok", "damaged"] = "ok"
    note: Note | None = None


class ReturnIn(BaseModel):
    """A return checked against the list (16.2); ``close`` makes what is still out lost (a loss record each)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "returned": [
                        {"asset_id": 12, "condition": "ok"},
                        {"asset_id": 13, "condition": "damaged", "note": "外壳裂"},
                    ],
                    "close": False,
                }
            ]
        },
    )

    returned: list[ReturnedItemIn] = Field(default_factory=list, max_length=500)
    close: bool = False


class IssueItemOut(BaseModel):
    asset_id: int
    tag: str
    kind: str
    status: str
    note: str | None
    checked_by: str | None
    checked_at: datetime | None


class IssueListOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "vendor_id": 1,
                    "status": "confirmed",
                    "created_by": "AD01",
                    "created_at": "2026-11-26T01:00:00+00:00",
                    "confirmed_by": "TL01",
                    "confirmed_at": "2026-11-26T02:00:00+00:00",
                    "document_ref": "盖章-2026-031",
                    "note": None,
                    "closed_by": None,
                    "closed_at": None,
                    "items": [
                        {
                            "asset_id": 12,
                            "tag": "PC-0012",
                            "kind": "computer",
                            "status": "issued",
                            "note": None,
                            "checked_by": "TL01",
                            "checked_at": "2026-11-26T02:00:00+00:00",
                        }
                    ],
                }
            ]
        }
    )

    id: int
    vendor_id: int
    status: str
    created_by: str
    created_at: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    document_ref: str | None
    note: str | None
    closed_by: str | None
    closed_at: datetime | None
    items: list[IssueItemOut]


class ReturnCheckOut(BaseModel):
    """What the return check found, by asset tag; ``missing`` became lost if the list was closed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "list_id": 3,
                    "returned": ["PC-0012"],
                    "damaged": ["PC-0013"],
                    "missing": [],
                    "damage_ids": [7],
                    "closed": False,
                }
            ]
        }
    )

    list_id: int
    returned: list[str]
    damaged: list[str]
    missing: list[str]
    damage_ids: list[int]
    closed: bool


# --- inspections ------------------------------------------------------------------------------------


class SeatCheckIn(BaseModel):
    seat_id: BodyId
    result: Literal["ok", "fault", "damaged", "missing_item"]
    #: needed for anything but ok
    note: Note | None = None
    asset_id: BodyId | None = None


class InspectionIn(BaseModel):
    """The day's inspection (12.2) of every active seat of the vendor; a fault files a fault report at once."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "day": "2026-11-27",
                    "checks": [
                        {"seat_id": 4, "result": "ok"},
                        {"seat_id": 5, "result": "fault", "note": "耳麦无声", "asset_id": 13},
                    ],
                }
            ]
        },
    )

    #: the vendor inspected: required for the client's admins, the caller's own vendor otherwise
    vendor_id: BodyId | None = None
    day: Day
    checks: list[SeatCheckIn] = Field(max_length=1000)
    note: Note | None = None


class InspectionItemOut(BaseModel):
    seat_id: int
    seat_code: str | None
    result: str
    note: str | None
    asset_id: int | None


class InspectionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 9,
                    "vendor_id": 1,
                    "day": "2026-11-27",
                    "inspected_by": "TL01",
                    "recorded_at": "2026-11-27T01:30:00+00:00",
                    "note": None,
                    "items": [
                        {"seat_id": 4, "seat_code": "A-01", "result": "ok", "note": None, "asset_id": None},
                        {"seat_id": 5, "seat_code": "A-02", "result": "fault", "note": "耳麦无声", "asset_id": 13},
                    ],
                }
            ]
        }
    )

    id: int
    vendor_id: int
    day: date
    inspected_by: str
    recorded_at: datetime
    note: str | None
    items: list[InspectionItemOut]


class MissingInspectionOut(BaseModel):
    """A vendor without an inspection of a working day, and the seats it should have covered."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"vendor_id": 1, "vendor_code": "va", "day": "2026-11-26", "seat_codes": ["A-01", "A-02"]}]
        }
    )

    vendor_id: int
    vendor_code: str
    day: date
    seat_codes: list[str]


# --- damage and loss --------------------------------------------------------------------------------


class DamageIn(BaseModel):
    """Damage to or loss of an asset; the last user comes from the logins at its seat (or its holder)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "asset_id": 13,
                    "kind": "damage",
                    "cause": "unknown",
                    "description": "耳麦线被扯断",
                    "occurred_at": "2026-11-27T09:30:00+08:00",
                    "fault_id": 21,
                }
            ]
        },
    )

    asset_id: BodyId
    kind: DamageKindName
    description: Note
    cause: CauseName = "unknown"
    #: when it was found (default: now); the last user is the one at the seat before it
    occurred_at: Instant | None = None
    #: default: the asset's seat
    seat_id: BodyId | None = None
    #: the fault report (报障单) it came from, if any
    fault_id: BodyId | None = None


class DecisionIn(BaseModel):
    """The client's compensation decision (照价赔偿): charge the asset's value (or ``amount``), or waive with a note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"charge": True, "cause": "human"}, {"charge": False, "note": "正常老化"}]},
    )

    charge: bool
    amount: Amount | None = None
    cause: CauseName | None = None
    note: Note | None = None


class DamageOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "asset_id": 13,
                    "asset_tag": "HS-0013",
                    "asset_kind": "headset",
                    "vendor_id": 1,
                    "seat_id": 5,
                    "seat_code": "A-02",
                    "kind": "damage",
                    "cause": "human",
                    "description": "耳麦线被扯断",
                    "occurred_at": "2026-11-27T01:30:00+00:00",
                    "reported_by": "TL01",
                    "reported_at": "2026-11-27T02:00:00+00:00",
                    "last_work_id": "A1001",
                    "last_session_id": 311,
                    "last_user_source": "seat_session",
                    "fault_id": 21,
                    "compensation": "charged",
                    "amount": "120.00",
                    "decided_by": "AD01",
                    "decided_at": "2026-11-27T06:00:00+00:00",
                    "decision_note": None,
                }
            ]
        }
    )

    id: int
    asset_id: int
    asset_tag: str
    asset_kind: str
    vendor_id: int | None
    seat_id: int | None
    seat_code: str | None
    kind: str
    cause: str
    description: str
    occurred_at: datetime
    reported_by: str
    reported_at: datetime
    #: the last user: the holder of a personal item, else the last work ID logged in at the seat before occurred_at
    last_work_id: str | None
    last_session_id: int | None
    #: seat_session / holder / none
    last_user_source: str
    fault_id: int | None
    #: pending / charged / waived
    compensation: str
    amount: Decimal | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


# --- monthly rates ----------------------------------------------------------------------------------


class RateAssetOut(BaseModel):
    """One asset behind a number, with its records that month and their last users."""

    tag: str
    kind: str
    damage_ids: list[int]
    kinds: list[str]
    causes: list[str]
    last_work_ids: list[str | None]


class RateLineOut(BaseModel):
    name: str
    count: int
    base: int
    #: count / base (0.0125 is 1.25%)
    rate: float
    target: str
    met: bool
    assets: list[RateAssetOut]
    base_tags: list[str]


class RatesOut(BaseModel):
    """12.1 and 13.1 for one vendor and site-local month, each number with the assets behind it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "vendor_id": 1,
                    "month": "2026-11",
                    "it_loss_rate": {
                        "name": "it_loss_rate",
                        "count": 1,
                        "base": 120,
                        "rate": 0.0083,
                        "target": "< 1%",
                        "met": True,
                        "assets": [
                            {
                                "tag": "HS-0013",
                                "kind": "headset",
                                "damage_ids": [7],
                                "kinds": ["damage"],
                                "causes": ["human"],
                                "last_work_ids": ["A1001"],
                            }
                        ],
                        "base_tags": ["HS-0013", "PC-0012"],
                    },
                    "human_damage": {
                        "name": "human_damage",
                        "count": 1,
                        "base": 120,
                        "rate": 0.0083,
                        "target": "0",
                        "met": False,
                        "assets": [],
                        "base_tags": [],
                    },
                    "fixed_damage_rate": {
                        "name": "fixed_damage_rate",
                        "count": 0,
                        "base": 40,
                        "rate": 0.0,
                        "target": "0%",
                        "met": True,
                        "assets": [],
                        "base_tags": [],
                    },
                }
            ]
        }
    )

    vendor_id: int
    month: str
    it_loss_rate: RateLineOut
    human_damage: RateLineOut
    fixed_damage_rate: RateLineOut


# --- off-boarding -----------------------------------------------------------------------------------


class DocumentIn(BaseModel):
    """A document of the client's handed to a staff member (2.1), to be handed back on leaving."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"title": "话术手册 v3"}]})

    title: str = Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]*[^\x00-\x1f\s][^\x00-\x1f]*$")


class CheckBackIn(BaseModel):
    """A manager (never the holder) checks one item back: an asset into the vendor's stock, or a document."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "asset", "id": 13, "condition": "ok"}, {"kind": "document", "id": 2}]},
    )

    kind: Literal["asset", "document"]
    id: BodyId
    #: assets only: damaged records the damage (the holder is the last user)
    condition: Literal["ok", "damaged"] = "ok"
    note: Note | None = None


class OutstandingOut(BaseModel):
    kind: str
    id: int
    label: str


class ChecklistOut(BaseModel):
    """What a leaving work ID still has to hand back (2.5); its deletion waits until ``complete``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "work_id": "A1001",
                    "complete": False,
                    "outstanding": [
                        {"kind": "asset", "id": 13, "label": "headset HS-0013"},
                        {"kind": "document", "id": 2, "label": "话术手册 v3"},
                    ],
                }
            ]
        }
    )

    work_id: str
    complete: bool
    outstanding: list[OutstandingOut]


class DocumentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 2,
                    "work_id": "A1001",
                    "vendor_id": 1,
                    "title": "话术手册 v3",
                    "issued_by": "TL01",
                    "issued_at": "2026-11-01T01:00:00+00:00",
                    "returned_at": None,
                    "checked_by": None,
                }
            ]
        }
    )

    id: int
    work_id: str
    vendor_id: int | None
    title: str
    issued_by: str
    issued_at: datetime
    returned_at: datetime | None
    checked_by: str | None

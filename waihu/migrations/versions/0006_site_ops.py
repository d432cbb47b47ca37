"""site operations: IT assets, issue lists, inspections, damage and loss, off-boarding

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("inspected_by", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], name=op.f("fk_inspections_vendor_id_vendors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
        sa.UniqueConstraint("vendor_id", "day", name="one_per_vendor_day"),
    )
    op.create_table(
        "issue_lists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("confirmed_by", sa.String(length=32), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document_ref", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("closed_by", sa.String(length=32), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status in ('open','confirmed','closed')", name=op.f("ck_issue_lists_status_known")),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], name=op.f("fk_issue_lists_vendor_id_vendors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_lists")),
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("value", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("seat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("holder_work_id", sa.String(length=32), nullable=True),
        sa.Column("work_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("category in ('it','fixed')", name=op.f("ck_assets_category_known")),
        sa.CheckConstraint(
            "state in ('in_stock','issued','in_use','under_repair','scrapped','lost')",
            name=op.f("ck_assets_state_known"),
        ),
        sa.ForeignKeyConstraint(["holder_work_id"], ["users.work_id"], name=op.f("fk_assets_holder_work_id_users")),
        sa.ForeignKeyConstraint(["seat_id"], ["seats.id"], name=op.f("fk_assets_seat_id_seats")),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], name=op.f("fk_assets_vendor_id_vendors")),
        sa.ForeignKeyConstraint(["work_id"], ["users.work_id"], name=op.f("fk_assets_work_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("tag", name=op.f("uq_assets_tag")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index("ix_assets_holder", ["holder_work_id"], unique=False)
        batch_op.create_index("ix_assets_vendor_state", ["vendor_id", "state"], unique=False)

    op.create_table(
        "handover_documents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("work_id", sa.String(length=32), nullable=False),
        sa.Column("vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("issued_by", sa.String(length=32), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], name=op.f("fk_handover_documents_vendor_id_vendors")),
        sa.ForeignKeyConstraint(["work_id"], ["users.work_id"], name=op.f("fk_handover_documents_work_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_documents")),
    )
    with op.batch_alter_table("handover_documents", schema=None) as batch_op:
        batch_op.create_index("ix_handover_documents_work_id", ["work_id", "returned_at"], unique=False)

    op.create_table(
        "asset_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("seat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("holder_work_id", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_asset_events_asset_id_assets")),
        sa.ForeignKeyConstraint(["seat_id"], ["seats.id"], name=op.f("fk_asset_events_seat_id_seats")),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], name=op.f("fk_asset_events_vendor_id_vendors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_events")),
    )
    with op.batch_alter_table("asset_events", schema=None) as batch_op:
        batch_op.create_index("ix_asset_events_asset_at", ["asset_id", "at"], unique=False)

    op.create_table(
        "inspection_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("inspection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "result in ('ok','fault','damaged','missing_item')", name=op.f("ck_inspection_items_result_known")
        ),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_inspection_items_asset_id_assets")),
        sa.ForeignKeyConstraint(
            ["inspection_id"], ["inspections.id"], name=op.f("fk_inspection_items_inspection_id_inspections")
        ),
        sa.ForeignKeyConstraint(["seat_id"], ["seats.id"], name=op.f("fk_inspection_items_seat_id_seats")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_items")),
        sa.UniqueConstraint("inspection_id", "seat_id", name="one_per_seat"),
    )
    op.create_table(
        "issue_list_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("checked_by", sa.String(length=32), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status in ('pending','refused','issued','returned','damaged','missing')",
            name=op.f("ck_issue_list_items_status_known"),
        ),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_issue_list_items_asset_id_assets")),
        sa.ForeignKeyConstraint(["list_id"], ["issue_lists.id"], name=op.f("fk_issue_list_items_list_id_issue_lists")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_list_items")),
        sa.UniqueConstraint("list_id", "asset_id", name="one_asset_per_list"),
    )
    op.create_table(
        "damage_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("vendor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("seat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("cause", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_by", sa.String(length=32), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_work_id", sa.String(length=32), nullable=True),
        sa.Column("last_session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_user_source", sa.String(length=16), nullable=False),
        sa.Column("fault_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("compensation", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint("cause in ('human','wear','unknown')", name=op.f("ck_damage_records_cause_known")),
        sa.CheckConstraint(
            "compensation in ('pending','charged','waived')", name=op.f("ck_damage_records_compensation_known")
        ),
        sa.CheckConstraint("kind in ('damage','loss')", name=op.f("ck_damage_records_kind_known")),
        sa.CheckConstraint(
            "last_user_source in ('seat_session','holder','none')", name=op.f("ck_damage_records_source_known")
        ),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name=op.f("fk_damage_records_asset_id_assets")),
        sa.ForeignKeyConstraint(
            ["fault_id"], ["fault_reports.id"], name=op.f("fk_damage_records_fault_id_fault_reports")
        ),
        sa.ForeignKeyConstraint(
            ["last_session_id"], ["auth_sessions.id"], name=op.f("fk_damage_records_last_session_id_auth_sessions")
        ),
        sa.ForeignKeyConstraint(["last_work_id"], ["users.work_id"], name=op.f("fk_damage_records_last_work_id_users")),
        sa.ForeignKeyConstraint(["seat_id"], ["seats.id"], name=op.f("fk_damage_records_seat_id_seats")),
        sa.ForeignKeyConstraint(["vendor_id"], ["vendors.id"], name=op.f("fk_damage_records_vendor_id_vendors")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_damage_records")),
    )
    with op.batch_alter_table("damage_records", schema=None) as batch_op:
        batch_op.create_index("ix_damage_records_vendor_occurred", ["vendor_id", "occurred_at"], unique=False)

    # a plain ADD COLUMN (no foreign key): works offline and never rebuilds fault_reports on SQLite
    op.add_column(
        "fault_reports", sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("fault_reports", schema=None) as batch_op:
        batch_op.drop_column("asset_id")

    with op.batch_alter_table("damage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_damage_records_vendor_occurred")

    op.drop_table("damage_records")
    op.drop_table("issue_list_items")
    op.drop_table("inspection_items")
    with op.batch_alter_table("asset_events", schema=None) as batch_op:
        batch_op.drop_index("ix_asset_events_asset_at")

    op.drop_table("asset_events")
    with op.batch_alter_table("handover_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_handover_documents_work_id")

    op.drop_table("handover_documents")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index("ix_assets_vendor_state")
        batch_op.drop_index("ix_assets_holder")

    op.drop_table("assets")
    op.drop_table("issue_lists")
    op.drop_table("inspections")

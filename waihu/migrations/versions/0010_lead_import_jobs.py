"""api: lead import jobs (a background upload's progress and report, readable after a restart)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lead_import_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("started_by", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("error_id", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state in ('running','done','failed','interrupted')", name=op.f("ck_lead_import_jobs_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_lead_import_jobs_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_import_jobs")),
    )
    op.create_index("ix_lead_import_jobs_campaign", "lead_import_jobs", ["campaign_id", "created_at"])
    op.create_index("ix_lead_import_jobs_state", "lead_import_jobs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_lead_import_jobs_state", table_name="lead_import_jobs")
    op.drop_index("ix_lead_import_jobs_campaign", table_name="lead_import_jobs")
    op.drop_table("lead_import_jobs")

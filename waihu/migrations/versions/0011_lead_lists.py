"""dialer: lead lists (each import is a list that can be paused and counted on its own)

The leads imported before this revision get one list per campaign, named ``before lists``.

``leads.list_id`` is added (and dropped again) with plain ALTER TABLE on both databases: on SQLite a
batch rebuild of ``leads`` would drop the table under call_attempts' foreign keys, which sets their
``lead_id`` to NULL. That is also why it stays nullable (SQLite cannot add a NOT NULL reference);
every import sets it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: the list the leads imported before lists existed are put in
BEFORE_LISTS = "before lists"


def upgrade() -> None:
    op.create_table(
        "lead_lists",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_lead_lists_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_lists")),
        sa.UniqueConstraint("campaign_id", "name", name="uq_lead_lists_campaign_name"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # ALTER TABLE … ADD COLUMN with its reference inline: no table rebuild
        op.execute(
            "ALTER TABLE leads ADD COLUMN list_id INTEGER "
            "CONSTRAINT fk_leads_list_id_lead_lists REFERENCES lead_lists (id) ON DELETE CASCADE"
        )
    else:
        op.add_column("leads", sa.Column("list_id", _ID, nullable=True))
        op.create_foreign_key(
            op.f("fk_leads_list_id_lead_lists"), "leads", "lead_lists", ["list_id"], ["id"], ondelete="CASCADE"
        )
    op.create_index("ix_leads_list", "leads", ["list_id", "status"])
    op.execute(
        sa.text(
            "INSERT INTO lead_lists (campaign_id, name, active, created_by, created_at) "
            "SELECT campaign_id, :name, :active, NULL, min(created_at) FROM leads GROUP BY campaign_id"
        ).bindparams(name=BEFORE_LISTS, active=True)
    )
    op.execute(
        "UPDATE leads SET list_id = (SELECT lead_lists.id FROM lead_lists "
        "WHERE lead_lists.campaign_id = leads.campaign_id) WHERE list_id IS NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_leads_list", table_name="leads")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE leads DROP COLUMN list_id")  # SQLite 3.35+: no rebuild, the attempts keep their leads
    else:
        op.drop_constraint(op.f("fk_leads_list_id_lead_lists"), "leads", type_="foreignkey")
        op.drop_column("leads", "list_id")
    op.drop_table("lead_lists")

"""calls: the conversation on call_attempts, call_events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_events")),
    )
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.create_index("ix_call_events_call", ["call_id", "at"], unique=False)

    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("work_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("bridged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("wrap_up_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("flow_ref", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("flow_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("transcript", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("captured_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("recording_path", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_attempts", schema=None) as batch_op:
        batch_op.drop_column("recording_path")
        batch_op.drop_column("captured_enc")
        batch_op.drop_column("tags")
        batch_op.drop_column("transcript")
        batch_op.drop_column("flow_started_at")
        batch_op.drop_column("flow_ref")
        batch_op.drop_column("wrap_up_seconds")
        batch_op.drop_column("bridged_at")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("work_id")

    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.drop_index("ix_call_events_call")

    op.drop_table("call_events")

"""IVR classification: district and IVR outcome on calls, the menu path, announcements.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("district_code", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ivr_outcome", sa.String(), nullable=True))
        batch.add_column(sa.Column("ivr_exit_node", sa.String(), nullable=True))
        batch.create_index("ix_calls_caller_number_arrived", ["caller_number", "arrived_at"])
    op.create_table(
        "ivr_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uniqueid", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_events")),
    )
    op.create_index("ix_ivr_events_call_uniqueid", "ivr_events", ["call_uniqueid"])
    op.create_index("ix_ivr_events_at_node", "ivr_events", ["at", "node"])
    op.create_table(
        "announcements",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_announcements")),
    )


def downgrade() -> None:
    op.drop_table("announcements")
    op.drop_index("ix_ivr_events_at_node", table_name="ivr_events")
    op.drop_index("ix_ivr_events_call_uniqueid", table_name="ivr_events")
    op.drop_table("ivr_events")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_caller_number_arrived")
        batch.drop_column("ivr_exit_node")
        batch.drop_column("ivr_outcome")
        batch.drop_column("district_code")

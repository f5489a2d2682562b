"""The dispatch figures' rollups (issue 16): per dyadic block of Vietnam days × place or
team, the counts and the medians' histograms (``dispatch.rollups``); the days rolled up;
an index on ``incidents.closed_at`` for the incidents closed after their day was rolled.

Revision ID: 0012_dispatch_rollups
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_dispatch_rollups"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _count(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), server_default="0", nullable=False)


def upgrade() -> None:
    op.create_table(
        "incident_rollup_days",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "incident_rollups",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        *(_count(n) for n in ("n", "acknowledged", "resolved", "cancelled", "escalated")),
        sa.Column("hists", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("level", "start", "kind", "group_id"),
    )
    op.create_index("ix_incidents_closed_at", "incidents", ["closed_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_closed_at", table_name="incidents")
    op.drop_table("incident_rollups")
    op.drop_table("incident_rollup_days")

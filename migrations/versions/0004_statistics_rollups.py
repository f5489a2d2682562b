"""Historical statistics: rollups per 15 minutes and per day (queues, agents, pauses), and
the indexes that rebuild them from calls and agent state changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# store.models.SL_EDGES when this revision was written (revisions do not import the models).
SL_EDGES = (*range(1, 31), *range(35, 61, 5), 90, 120, 180, 240, 300)


def _counts(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(n, sa.Integer(), server_default="0", nullable=False) for n in names]


def _sums(*names: str) -> list[sa.Column[float]]:
    return [sa.Column(n, sa.Float(), server_default="0", nullable=False) for n in names]


def _bucket_key() -> list[sa.Column[object]]:
    return [
        sa.Column("period_s", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
    ]


def _agent_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["agent_id"], ["agents.id"], name=op.f(f"fk_{table}_agent_id_agents"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "queue_stats",
        *_bucket_key(),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("queue", sa.String(), nullable=False),
        *_counts("offered", "answered", "abandoned", "short_abandoned", "callbacks", "repeats"),
        *_counts("handled"),
        *_sums("wait_answered_s", "talk_s", "wrapup_s"),
        sa.Column("wait_max_s", sa.Float(), nullable=True),
        *_counts(*(f"answered_within_{t}" for t in SL_EDGES)),
        sa.PrimaryKeyConstraint(
            "period_s", "bucket", "category", "queue", name=op.f("pk_queue_stats")
        ),
    )
    op.create_table(
        "agent_stats",
        *_bucket_key(),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        *_counts("answered"),
        *_sums("logged_in_s", "idle_s", "ringing_s", "on_call_s", "wrapup_s", "paused_s"),
        _agent_fk("agent_stats"),
        sa.PrimaryKeyConstraint("period_s", "bucket", "agent_id", name=op.f("pk_agent_stats")),
    )
    op.create_index(
        "ix_agent_stats_agent_period_bucket", "agent_stats", ["agent_id", "period_s", "bucket"]
    )
    op.create_table(
        "agent_pause_stats",
        *_bucket_key(),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("paused_s", sa.Float(), nullable=False),
        _agent_fk("agent_pause_stats"),
        sa.PrimaryKeyConstraint(
            "period_s", "bucket", "agent_id", "reason", name=op.f("pk_agent_pause_stats")
        ),
    )
    op.create_index(
        "ix_agent_pause_stats_agent_period_bucket",
        "agent_pause_stats",
        ["agent_id", "period_s", "bucket"],
    )
    op.create_index(
        op.f("ix_agent_state_changes_call_uniqueid"), "agent_state_changes", ["call_uniqueid"]
    )
    op.create_index(op.f("ix_calls_queue_entered_at"), "calls", ["queue_entered_at"])
    op.create_index(op.f("ix_calls_answered_at"), "calls", ["answered_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_calls_answered_at"), table_name="calls")
    op.drop_index(op.f("ix_calls_queue_entered_at"), table_name="calls")
    op.drop_index(op.f("ix_agent_state_changes_call_uniqueid"), table_name="agent_state_changes")
    op.drop_index("ix_agent_pause_stats_agent_period_bucket", table_name="agent_pause_stats")
    op.drop_table("agent_pause_stats")
    op.drop_index("ix_agent_stats_agent_period_bucket", table_name="agent_stats")
    op.drop_table("agent_stats")
    op.drop_table("queue_stats")

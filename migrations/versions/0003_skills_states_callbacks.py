"""Skill-based routing: agents' skills, home district and pause; agent state changes;
callbacks; repeat calls.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("home_district", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("pause_reason", sa.String(), nullable=True))
        batch.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    op.create_table(
        "agent_skills",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("proficiency", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_skills_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", "category", name=op.f("pk_agent_skills")),
    )
    op.create_table(
        "agent_state_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("call_uniqueid", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_agent_state_changes_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_changes")),
    )
    op.create_index("ix_agent_state_changes_agent_at", "agent_state_changes", ["agent_id", "at"])
    op.create_index(op.f("ix_agent_state_changes_at"), "agent_state_changes", ["at"])
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("repeat_of", sa.String(), nullable=True))
        batch.create_index(batch.f("ix_calls_repeat_of"), ["repeat_of"])
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uniqueid", sa.String(), nullable=False),
        sa.Column("caller_number", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("district_code", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("placeholder_uniqueid", sa.String(), nullable=True),
        sa.Column("agent_endpoint", sa.String(), nullable=True),
        sa.Column("result", sa.String(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("call_uniqueid", name=op.f("uq_callbacks_call_uniqueid")),
    )
    op.create_index(op.f("ix_callbacks_caller_number"), "callbacks", ["caller_number"])
    op.create_index(op.f("ix_callbacks_status"), "callbacks", ["status"])
    op.create_index("ix_callbacks_status_next", "callbacks", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_status_next", table_name="callbacks")
    op.drop_index(op.f("ix_callbacks_status"), table_name="callbacks")
    op.drop_index(op.f("ix_callbacks_caller_number"), table_name="callbacks")
    op.drop_table("callbacks")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index(batch.f("ix_calls_repeat_of"))
        batch.drop_column("repeat_of")
    op.drop_index(op.f("ix_agent_state_changes_at"), table_name="agent_state_changes")
    op.drop_index("ix_agent_state_changes_agent_at", table_name="agent_state_changes")
    op.drop_table("agent_state_changes")
    op.drop_table("agent_skills")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("active")
        batch.drop_column("paused_at")
        batch.drop_column("pause_reason")
        batch.drop_column("paused")
        batch.drop_column("home_district")

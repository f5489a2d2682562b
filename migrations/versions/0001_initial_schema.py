"""Initial schema: agents, calls, users, api_tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Hand-checked against SQLite and PostgreSQL: boolean server defaults are ``sa.false()`` /
``sa.true()`` (autogenerate renders SQLite's ``0``/``1``, which PostgreSQL rejects for a
boolean column), and timestamps are ``timestamptz`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("logged_in", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("logged_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_agents_endpoint")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uniqueid", sa.String(), nullable=False),
        sa.Column("linkedid", sa.String(), nullable=False),
        sa.Column("caller_number", sa.String(), nullable=False),
        sa.Column("caller_name", sa.String(), server_default="", nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue_entered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ivr_choice", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("route", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_endpoint", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("wait_s", sa.Double(), nullable=True),
        sa.Column("talk_s", sa.Double(), nullable=True),
        sa.Column("hangup_cause", sa.String(), nullable=True),
        sa.Column("complete", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_calls_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("uniqueid", name=op.f("uq_calls_uniqueid")),
    )
    op.create_index(op.f("ix_calls_agent_id"), "calls", ["agent_id"])
    op.create_index(op.f("ix_calls_arrived_at"), "calls", ["arrived_at"])
    op.create_index(
        "ix_calls_arrived_category_status", "calls", ["arrived_at", "category", "status"]
    )
    op.create_index(op.f("ix_calls_linkedid"), "calls", ["linkedid"])
    op.create_index(op.f("ix_calls_status"), "calls", ["status"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_users_agent_id_agents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("label", sa.String(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])


def downgrade() -> None:
    # Dropping a table drops its indexes on both databases.
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("calls")
    op.drop_table("agents")

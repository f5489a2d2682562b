"""Recordings (issue 15): every recorded leg with its digest chain and retention, the spans
a recording was paused, and legal holds.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("ref", sa.String(), nullable=False),
        sa.Column("call_uniqueid", sa.String(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("conference_id", sa.Integer(), nullable=True),
        sa.Column("uniqueid", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("instance", sa.String(), server_default="main", nullable=False),
        _when("started_at", nullable=False),
        _when("ended_at"),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(), nullable=True),
        sa.Column("prev_chain", sa.String(), nullable=True),
        sa.Column("chain", sa.String(), nullable=True),
        sa.Column("retention_class", sa.String(), nullable=True),
        _when("expires_at"),
        _when("purged_at"),
        sa.Column("purge_reason", sa.String(), nullable=True),
        sa.Column("parties", sa.Text(), server_default="{}", nullable=False),
        sa.Column("paused_s", sa.Double(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_recordings_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conferences.id"],
            name=op.f("fk_recordings_conference_id_conferences"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("seq", name=op.f("uq_recordings_seq")),
        sa.UniqueConstraint("name", name=op.f("uq_recordings_name")),
    )
    with op.batch_alter_table("recordings") as batch:
        batch.create_index("ix_recordings_started_at_kind", ["started_at", "kind"], unique=False)
        batch.create_index(batch.f("ix_recordings_call_uniqueid"), ["call_uniqueid"], unique=False)
        batch.create_index(batch.f("ix_recordings_incident_id"), ["incident_id"], unique=False)
        batch.create_index(batch.f("ix_recordings_conference_id"), ["conference_id"], unique=False)
        batch.create_index(batch.f("ix_recordings_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "recording_pauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        _when("paused_at", nullable=False),
        _when("resumed_at"),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("by_name", sa.String(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_pauses_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["users.id"],
            name=op.f("fk_recording_pauses_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_pauses")),
    )
    with op.batch_alter_table("recording_pauses") as batch:
        batch.create_index(
            batch.f("ix_recording_pauses_recording_id"), ["recording_id"], unique=False
        )

    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        _when("created_at", nullable=False),
        _when("released_at"),
        sa.Column("released_by", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_legal_holds_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_legal_holds_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds") as batch:
        batch.create_index(batch.f("ix_legal_holds_call_id"), ["call_id"], unique=False)
        batch.create_index(batch.f("ix_legal_holds_incident_id"), ["incident_id"], unique=False)
        batch.create_index(batch.f("ix_legal_holds_released_at"), ["released_at"], unique=False)


def downgrade() -> None:
    op.drop_table("legal_holds")
    op.drop_table("recording_pauses")
    op.drop_table("recordings")

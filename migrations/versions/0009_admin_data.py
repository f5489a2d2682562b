"""What the /admin page edits: an announcement keeps the version it replaced (for a
revert); pause reasons become data (``pause_reasons``).

The table of pause reasons starts empty: at its first start the service fills it with the
reasons it is configured with (``HOTLINE_PAUSE_REASONS``), in their order, so the agents'
phone codes ``*2N`` stay what they were.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rewritten announcements have no previous version kept: NULL (nothing to revert).
    with op.batch_alter_table("announcements") as batch:
        batch.add_column(sa.Column("previous_text", sa.String(), nullable=True))
        batch.add_column(sa.Column("previous_by", sa.String(), nullable=True))
    op.create_table(
        "pause_reasons",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_pause_reasons")),
        sa.UniqueConstraint("position", name=op.f("uq_pause_reasons_position")),
    )


def downgrade() -> None:
    op.drop_table("pause_reasons")
    with op.batch_alter_table("announcements") as batch:
        batch.drop_column("previous_by")
        batch.drop_column("previous_text")

"""An announcement keeps the version it replaced, so a supervisor can revert to it.

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


def downgrade() -> None:
    with op.batch_alter_table("announcements") as batch:
        batch.drop_column("previous_by")
        batch.drop_column("previous_text")

"""Calls carry the Asterisk instance they came through, so that a service reconciles only
its own instance's calls (existing rows: the default instance, "main").

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(
            sa.Column("asterisk_instance", sa.String(), nullable=False, server_default="main")
        )
        batch.create_index("ix_calls_asterisk_instance", ["asterisk_instance"])


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_asterisk_instance")
        batch.drop_column("asterisk_instance")

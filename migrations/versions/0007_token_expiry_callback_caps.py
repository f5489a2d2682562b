"""Tokens expire (api_tokens.expires_at); the callback caps count recent requests
(callbacks.requested_at indexed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing tokens keep expires_at NULL: the role's lifetime from their creation applies.
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_callbacks_requested_at", "callbacks", ["requested_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_callbacks_requested_at", table_name="callbacks")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")

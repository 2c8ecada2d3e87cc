"""The corrections table.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the corrections table and the index retention purges by."""
    op.create_table(
        "corrections",
        sa.Column("feedback_id", sa.String(32), primary_key=True),
        sa.Column("ticket_id", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("intent", sa.String(100), nullable=True),
        sa.Column("route", sa.String(20), nullable=True),
        sa.Column("rule_id", sa.String(40), nullable=True),
        sa.Column("agent", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_corrections_received_at", "corrections", ["received_at"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_index("ix_corrections_received_at", table_name="corrections")
    op.drop_table("corrections")

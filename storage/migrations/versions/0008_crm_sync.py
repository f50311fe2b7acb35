"""CRM sync: the write-back queue, so a write to the CRM that failed is retried later and never
lost. (Deals the CRM deleted are kept as tombstones by 0007's `deals.removed_at`.)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_writebacks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("vendor", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=256), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("vendor", "key", name="uq_crm_writebacks_key"),
    )
    op.create_index("ix_crm_writebacks_due", "crm_writebacks", ["status", "next_at"])


def downgrade() -> None:
    op.drop_index("ix_crm_writebacks_due", table_name="crm_writebacks")
    op.drop_table("crm_writebacks")

"""CRM sync: deals the CRM deleted or merged away are kept as tombstones (drafts and handoffs
still point at them) and leave the pipeline; the write-back queue, so a write to the CRM that
failed is retried later and never lost.

Revision ID: 0008
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
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
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")

"""Handoff delivery (posted or not, a lease, the question shown with it, a Slack reminder) and
the weekly digest, one row per week.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPOSTED = "posted_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("cadence_handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("question_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("post_claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("post_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("post_refusals", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("post_error", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("reminder_id", sa.String(length=128), nullable=True))
    # Handoffs from before this revision were posted best effort; whether they reached Slack is
    # unknown, and posting them all again would flood people with old replies.
    op.execute("UPDATE cadence_handoffs SET posted_at = created_at")
    with op.batch_alter_table("cadence_handoffs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cadence_handoffs_unposted",
            ["id"],
            unique=False,
            sqlite_where=sa.text(UNPOSTED),
            postgresql_where=sa.text(UNPOSTED),
        )
    op.create_table(
        "cadence_digests",
        sa.Column("week", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("file_id", sa.String(length=64), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("week"),
    )


def downgrade() -> None:
    op.drop_table("cadence_digests")
    with op.batch_alter_table("cadence_handoffs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_cadence_handoffs_unposted",
            sqlite_where=sa.text(UNPOSTED),
            postgresql_where=sa.text(UNPOSTED),
        )
        for name in (
            "reminder_id",
            "post_error",
            "post_refusals",
            "post_attempts",
            "post_claimed_at",
            "posted_at",
            "question_id",
        ):
            batch_op.drop_column(name)

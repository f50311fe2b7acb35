"""The send path: outbox claims carry an owner token and a lease the owner renews, and when a
claimed message was handed to the mailbox; Slack clicks are stored before they are acked.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "slack_clicks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_slack_clicks_open",
        "slack_clicks",
        ["id"],
        unique=False,
        sqlite_where=sa.text("done_at IS NULL"),
        postgresql_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_slack_clicks_open", table_name="slack_clicks")
    op.drop_table("slack_clicks")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("handed_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("owner_token")

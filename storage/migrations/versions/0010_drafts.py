"""What a draft was written from, for the reviewer: the evidence, the Cc of the recipient's
thread, the model's facts_used and why_angle, and warnings (suspected injection, tasks).

Revision ID: 0010
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("drafting", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_column("drafting")

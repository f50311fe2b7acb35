"""Cost and latency of the model calls behind each draft.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("model_calls", "prompt_tokens", "completion_tokens", "model_ms")


def upgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_name", sa.String(length=128), nullable=True))
        for name in COUNTERS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        for name in reversed(COUNTERS):
            batch_op.drop_column(name)
        batch_op.drop_column("model_name")

"""Set-based sync and incremental cycles (issue 12): a digest of the CRM's values per owner,
contact, deal and activity; when each deal must be evaluated again; tombstones for deals the
CRM no longer has; which deals name a contact.

Revision ID: 0007
Revises: 0004
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("owners", "contacts", "activities"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("sync_hash", sa.String(length=32), nullable=True))
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_origin_at", ["origin", "at"], unique=False)
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_hash", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("tree_hash", sa.String(length=32), nullable=True))
        # NULL: evaluate on the next cycle (every deal stored before this revision is).
        batch_op.add_column(
            sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_deals_next_check_at", ["next_check_at"], unique=False)
        batch_op.create_index("ix_deals_owner_id", ["owner_id"], unique=False)
    op.create_table(
        "deal_contacts",
        sa.Column("deal_id", sa.String(length=128), nullable=False),
        sa.Column("contact_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"]),
        sa.PrimaryKeyConstraint("deal_id", "contact_id"),
    )
    op.create_index("ix_deal_contacts_contact_id", "deal_contacts", ["contact_id"], unique=False)
    connection = op.get_bind()
    pairs: list[dict[str, str]] = []
    for deal_id, contact_ids in connection.execute(sa.text("SELECT id, contact_ids FROM deals")):
        ids = json.loads(contact_ids) if isinstance(contact_ids, str) else contact_ids
        pairs += [{"d": deal_id, "c": c} for c in dict.fromkeys(ids or ())]
    if pairs:
        connection.execute(
            sa.text("INSERT INTO deal_contacts (deal_id, contact_id) VALUES (:d, :c)"), pairs
        )


def downgrade() -> None:
    op.drop_index("ix_deal_contacts_contact_id", table_name="deal_contacts")
    op.drop_table("deal_contacts")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_owner_id")
        batch_op.drop_index("ix_deals_next_check_at")
        for name in ("removed_at", "next_check_at", "tree_hash", "sync_hash"):
            batch_op.drop_column(name)
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_origin_at")
    for table in ("activities", "contacts", "owners"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("sync_hash")

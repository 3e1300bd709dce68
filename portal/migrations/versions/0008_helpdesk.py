"""External helpdesks (#16): the helpdesk's id of each delivered ticket, and how far
the portal has read the helpdesk's changes.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "helpdesk_cursors",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("helpdesk_id", sa.String(64), nullable=True))
        batch.create_index("ix_tickets_helpdesk_id", ["helpdesk_id"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_helpdesk_id")
        batch.drop_column("helpdesk_id")
    op.drop_table("helpdesk_cursors")

"""Waivers on tickets (#12): the waivers the customer claimed when filing, and staff's
confirmation of one (which, who, when, a note).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        # tickets filed before claims existed claimed nothing
        batch.add_column(
            sa.Column("waivers_claimed", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("waiver_confirmed", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("waiver_confirmed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("waiver_confirmed_at", TZ, nullable=True))
        batch.add_column(sa.Column("waiver_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("waiver_note")
        batch.drop_column("waiver_confirmed_at")
        batch.drop_column("waiver_confirmed_by")
        batch.drop_column("waiver_confirmed")
        batch.drop_column("waivers_claimed")

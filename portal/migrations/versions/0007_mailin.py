"""Mail in and staff notifications: the Message-ID of each mail sent, the mails received
(each once), and the staff notifications queued (each once).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

# Tickets and customers' additions from before this migration were announced already
# (or never will be): mark them done, so the first run does not mail staff about the
# whole history. Constant text: nothing from outside goes into it.
BACKFILL = [
    "INSERT INTO staff_notices (key, ticket_id, kind, at) "
    "SELECT 'new:' || id, id, 'new', CURRENT_TIMESTAMP FROM tickets",
    "INSERT INTO staff_notices (key, ticket_id, kind, at) "
    "SELECT 'due_soon:' || id, id, 'due_soon', CURRENT_TIMESTAMP FROM tickets",
    "INSERT INTO staff_notices (key, ticket_id, kind, at) "
    "SELECT 'overdue:' || id, id, 'overdue', CURRENT_TIMESTAMP FROM tickets",
    "INSERT INTO staff_notices (key, ticket_id, kind, at) "
    "SELECT 'replied:' || id, ticket_id, 'replied', CURRENT_TIMESTAMP "
    "FROM ticket_events WHERE kind = 'comment'",
]


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("message_id", sa.String(250), nullable=True))
        batch.create_index("ix_outbox_message_id", ["message_id"])
    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(250), nullable=False, unique=True),
        sa.Column("at", TZ, nullable=False, index=True),
        sa.Column("sender", sa.String(254), nullable=False),
        sa.Column("ticket_number", sa.String(20), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
    )
    op.create_table(
        "staff_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(80), nullable=False, unique=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("staff_notices")
    op.drop_table("inbound_mail")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_message_id")
        batch.drop_column("message_id")

"""What happened to each ticket's emergency claim; one versioned status link per ticket;
counted attempts for rate limits.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)

# Existing rows only say claimed / accepted. A claim that was not accepted is told apart
# by the explanation gate_emergency wrote into the ticket's "filed" event; a claim whose
# event says nothing we know keeps counting, as every refused claim did before.
FILED_NOTE = (
    "(SELECT e.note FROM ticket_events e WHERE e.ticket_id = tickets.id "
    "AND e.kind = 'filed' ORDER BY e.id LIMIT 1)"
)
BACKFILL = f"""
UPDATE tickets SET emergency_outcome = CASE
    WHEN NOT emergency_claimed THEN 'none'
    WHEN emergency_accepted THEN 'accepted'
    WHEN {FILED_NOTE} LIKE '%emergency mark is ignored%' THEN 'ignored_abuse'
    WHEN {FILED_NOTE} LIKE 'Emergency handling is part of%' THEN 'not_on_plan'
    WHEN {FILED_NOTE} LIKE '%has no emergency service%' THEN 'not_on_plan'
    ELSE 'rejected_not_emergency'
END
"""  # noqa: S608 (constant text: nothing from outside goes into it)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("emergency_outcome", sa.String(30), nullable=False, server_default="none")
        )
        # version 0: the links sent before this migration (tokens without a version)
        batch.add_column(
            sa.Column("status_link_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("status_link_issued_at", TZ, nullable=True))
    op.execute(BACKFILL)
    op.create_table(
        "rate_hits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(40), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_rate_hits_scope_key_at", "rate_hits", ["scope", "key", "at"])


def downgrade() -> None:
    op.drop_index("ix_rate_hits_scope_key_at", table_name="rate_hits")
    op.drop_table("rate_hits")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("status_link_issued_at")
        batch.drop_column("status_link_version")
        batch.drop_column("emergency_outcome")

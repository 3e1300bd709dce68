"""Known incidents and maintenance windows with their public updates and "tell me when
it's fixed" subscriptions; scheduled notices; each server's billing period end; the
incident a ticket's emergency claim was attached to (#15).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("servers", sa.JSON(), nullable=False),
        sa.Column("starts_at", TZ, nullable=True),
        sa.Column("ends_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("resolved_at", TZ, nullable=True),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "incident_updates",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", TZ, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(254), nullable=False),
    )
    op.create_index("ix_incident_updates_incident_id", "incident_updates", ["incident_id"])
    op.create_table(
        "incident_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "incident_id",
            sa.Integer(),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("incident_id", "email"),
    )
    op.create_index(
        "ix_incident_subscriptions_incident_id", "incident_subscriptions", ["incident_id"]
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(160), nullable=False, unique=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("server_id", sa.String(60), nullable=False),
        sa.Column("ticket_number", sa.String(20), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("cancelled_at", TZ, nullable=True),
    )
    op.create_index("ix_notices_kind", "notices", ["kind"])
    op.create_index("ix_notices_due_at", "notices", ["due_at"])
    op.create_index("ix_notices_state", "notices", ["state"])
    op.create_index("ix_notices_account_id", "notices", ["account_id"])
    with op.batch_alter_table("servers") as batch:
        batch.add_column(sa.Column("billing_ends", sa.Date(), nullable=True))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch.create_index("ix_tickets_incident_id", ["incident_id"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_incident_id")
        batch.drop_column("incident_id")
    with op.batch_alter_table("servers") as batch:
        batch.drop_column("billing_ends")
    op.drop_table("notices")
    op.drop_table("incident_subscriptions")
    op.drop_table("incident_updates")
    op.drop_table("incidents")

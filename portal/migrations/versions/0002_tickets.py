"""Accounts, contacts, servers, pending requests, tickets, events, outbox, audit.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("plan", sa.String(40), nullable=False),
        sa.Column("plan_ends", sa.Date(), nullable=True),
        sa.Column("product_version", sa.String(20), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "account_id",
            sa.String(40),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.UniqueConstraint("account_id", "email"),
    )
    op.create_table(
        "servers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "account_id",
            sa.String(40),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("server_id", sa.String(60), nullable=False),
        sa.Column("owner", sa.String(20), nullable=False),
        sa.UniqueConstraint("account_id", "server_id"),
    )
    op.create_table(
        "pending_requests",
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False, index=True),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False, index=True),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.Column("ticket_number", sa.String(20), nullable=True),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(20), nullable=False, unique=True),
        sa.Column("pending_id", sa.String(43), nullable=False, unique=True),
        sa.Column(
            "account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False, index=True
        ),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=False),
        sa.Column("contact_role", sa.String(40), nullable=False),
        sa.Column("request_type", sa.String(60), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("plan", sa.String(40), nullable=False),
        sa.Column("plan_snapshot", sa.JSON(), nullable=False),
        sa.Column("priority", sa.String(40), nullable=False),
        sa.Column("emergency_claimed", sa.Boolean(), nullable=False),
        sa.Column("emergency_accepted", sa.Boolean(), nullable=False),
        sa.Column("coverage_status", sa.String(30), nullable=False),
        sa.Column("coverage_reason", sa.Text(), nullable=False),
        sa.Column("estimate", sa.Text(), nullable=True),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("routing", sa.String(20), nullable=False),
        sa.Column("status", sa.String(30), nullable=False, index=True),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("at", TZ, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(30), nullable=True),
        sa.Column("author", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("ticket_number", sa.String(20), nullable=True, index=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False, index=True),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("delivered_at", TZ, nullable=True, index=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("ticket_id", sa.Integer(), nullable=True))
        batch.create_index("ix_uploads_ticket_id", ["ticket_id"])
        batch.create_foreign_key(
            "fk_uploads_ticket_id", "tickets", ["ticket_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_constraint("fk_uploads_ticket_id", type_="foreignkey")
        batch.drop_index("ix_uploads_ticket_id")
        batch.drop_column("ticket_id")
    for table in (
        "audit",
        "outbox",
        "ticket_events",
        "tickets",
        "pending_requests",
        "servers",
        "contacts",
        "accounts",
    ):
        op.drop_table(table)

"""Staff accounts, their server-side sessions and audit log; who a ticket is assigned
to, which ticket a duplicate was merged into, and which staff member wrote an event.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("password_nonce", sa.String(43), nullable=True),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", TZ, nullable=True),
        sa.Column("last_login_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "staff_id",
            sa.Integer(),
            sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
    )
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TZ, nullable=False, index=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("staff_email", sa.String(254), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("ticket_number", sa.String(20), nullable=True, index=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
    )
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("assigned_to", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.String(20), nullable=True))
    with op.batch_alter_table("ticket_events") as batch:
        batch.add_column(sa.Column("staff_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket_events") as batch:
        batch.drop_column("staff_id")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("merged_into")
        batch.drop_column("assigned_to")
    op.drop_table("staff_audit")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")

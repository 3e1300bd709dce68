"""Sign-in by e-mailed code (pending sign-ins) and signed-in customer sessions (#13).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signin_requests",
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("account_key", sa.String(40), nullable=False),
        sa.Column("browser", sa.String(64), nullable=False, index=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("link_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False, index=True),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("verified_at", TZ, nullable=True),
        sa.Column("used_at", TZ, nullable=True),
    )
    op.create_table(
        "customer_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False, index=True),
        sa.Column("email", sa.String(254), nullable=False, index=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("customer_sessions")
    op.drop_table("signin_requests")

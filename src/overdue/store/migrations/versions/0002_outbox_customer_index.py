"""Index the outbox by customer and send time: the compliance gate for people's contacts reads a
debtor's messages of the last 8 days on every case page and every logged call.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_customer_sent", "outbox", ["customer_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_customer_sent", table_name="outbox")

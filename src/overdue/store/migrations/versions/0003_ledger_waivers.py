"""Ledger waivers: reductions approved in the operation (waivers, paid settlements' discounts),
waiting to be booked into the book's ``waivers`` table by ``overdue cases export-waivers``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_waivers",
        sa.Column("id", ID, nullable=False),
        sa.Column("waiver_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("component", sa.String(length=10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("exported_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "component IN ('fee', 'penalty', 'interest', 'principal')",
            name=op.f("ck_ledger_waivers_component_values"),
        ),
        sa.CheckConstraint(
            "source IN ('waiver', 'settlement')", name=op.f("ck_ledger_waivers_source_values")
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_ledger_waivers_amount_positive")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_ledger_waivers_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_waivers")),
        sa.UniqueConstraint("waiver_id", name=op.f("uq_ledger_waivers_waiver_id")),
    )
    op.create_index(
        "ix_ledger_waivers_exported_on", "ledger_waivers", ["exported_on"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_waivers_exported_on", table_name="ledger_waivers")
    op.drop_table("ledger_waivers")

"""Payments reported to the store (the payments webhook, inbound events), idempotent by id."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from overdue.cases.access import Conflict, NotFound
from overdue.cases.clock import instant
from overdue.store.tables import Payment, PaymentReversal

MAX_PAYMENT_FEN = 100_000_000_000
MAX_ID_CHARS = 64


def record_payment(
    session: Session,
    *,
    payment_id: str,
    account_id: str,
    amount_fen: int,
    value_date: date,
    source: str,
    received_at: datetime | None = None,
) -> bool:
    """Store a payment; True when new, False when ``payment_id`` was already stored with the
    same account and amount (a repeat). A repeat that differs raises Conflict."""
    if not payment_id or len(payment_id) > MAX_ID_CHARS:
        raise ValueError(f"payment_id: 1 to {MAX_ID_CHARS} characters")
    if not account_id or len(account_id) > MAX_ID_CHARS:
        raise ValueError(f"account_id: 1 to {MAX_ID_CHARS} characters")
    if not 0 < amount_fen <= MAX_PAYMENT_FEN:
        raise ValueError(f"amount_fen: {amount_fen} must be between 1 and {MAX_PAYMENT_FEN}")
    values = {
        "payment_id": payment_id,
        "account_id": account_id,
        "amount_fen": amount_fen,
        "value_date": value_date,
        "received_at": instant(received_at),
        "source": source[:40],
    }
    dialect = session.get_bind().dialect.name
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        make(Payment)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["payment_id"])
        .returning(Payment.id)
    )
    if session.execute(statement).first() is not None:
        return True
    stored = session.scalar(select(Payment).where(Payment.payment_id == payment_id))
    assert stored is not None
    if (stored.account_id, stored.amount_fen, stored.value_date) != (
        account_id,
        amount_fen,
        value_date,
    ):
        raise Conflict(f"payment {payment_id}: already stored with different details")
    return False


def reverse_payment(
    session: Session,
    *,
    payment_id: str,
    reversed_on: date,
    reason: str | None = None,
    received_at: datetime | None = None,
) -> bool:
    """Record that a payment was reversed; True when new, False when already reversed."""
    if session.scalar(select(Payment.id).where(Payment.payment_id == payment_id)) is None:
        raise NotFound(f"payment {payment_id}: not found")
    known = session.scalar(
        select(PaymentReversal.id).where(PaymentReversal.payment_id == payment_id)
    )
    if known is not None:
        return False
    session.add(
        PaymentReversal(
            payment_id=payment_id,
            reversed_on=reversed_on,
            received_at=instant(received_at),
            reason=reason,
        )
    )
    session.flush()
    return True

"""The payments webhook's body and how a payment is recorded: once, by payment_id.

The case services' ``record_payment`` stores the payment (True when new, False for a repeat of the
same payment, Conflict when the same payment_id comes with different details); the first delivery
is also logged as an ``inbound_events`` row (kind "payment") marked processed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from overdue.cases.payments import MAX_PAYMENT_FEN, record_payment
from overdue.store.tables import InboundEvent


class PaymentIn(BaseModel):
    """One payment received by the lender (amount in integer fen)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payment_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    amount_fen: int = Field(gt=0, le=MAX_PAYMENT_FEN)
    value_date: date
    source: str = Field(default="webhook", min_length=1, max_length=40)


def parse(body: bytes) -> PaymentIn:
    """The payment in ``body`` (JSON); raises pydantic.ValidationError naming the field."""
    return PaymentIn.model_validate_json(body)


def record(session: Session, payment: PaymentIn, now: datetime) -> dict[str, Any]:
    """Store the payment once; returns {"payment_id": ..., "status": "applied" | "duplicate"}."""
    new = record_payment(
        session,
        payment_id=payment.payment_id,
        account_id=payment.account_id,
        amount_fen=payment.amount_fen,
        value_date=payment.value_date,
        source=payment.source,
        received_at=now,
    )
    if new:
        session.execute(
            sa.insert(InboundEvent).values(
                kind="payment",
                external_id=payment.payment_id,
                payload=payment.model_dump(mode="json"),
                received_at=now,
                processed_at=now,
            )
        )
    return {"payment_id": payment.payment_id, "status": "applied" if new else "duplicate"}


__all__ = ["PaymentIn", "ValidationError", "parse", "record"]

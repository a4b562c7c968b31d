"""The payments webhook: HMAC-signed, idempotent by payment_id.

A payment is recorded once: the first delivery stores an ``inbound_events`` row (kind "payment",
external_id = payment_id) and the payment, then hands it to the case services; any later delivery
of the same payment_id answers ``duplicate`` and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

MAX_AMOUNT_FEN = 10**13


class PaymentIn(BaseModel):
    """One payment received by the lender (amount in integer fen)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    payment_id: str = Field(min_length=1, max_length=64)
    account_id: str = Field(min_length=1, max_length=64)
    amount_fen: int = Field(gt=0, lt=MAX_AMOUNT_FEN)
    value_date: date
    source: str = Field(default="webhook", min_length=1, max_length=40)


def parse(body: bytes) -> PaymentIn:
    """The payment in ``body`` (JSON); raises pydantic.ValidationError naming the field."""
    return PaymentIn.model_validate_json(body)


def _tables() -> tuple[sa.Table, sa.Table]:
    from overdue.store.tables import Base

    return Base.metadata.tables["inbound_events"], Base.metadata.tables["payments"]


def already_received(session: Session, payment_id: str) -> bool:
    events, _ = _tables()
    found = session.execute(
        sa.select(events.c.id).where(events.c.kind == "payment", events.c.external_id == payment_id)
    ).first()
    return found is not None


def record(session: Session, payment: PaymentIn, now: datetime) -> dict[str, Any]:
    """Store the payment once; returns {"status": "applied" | "duplicate", ...}."""
    events, payments = _tables()
    answer: dict[str, Any] = {"payment_id": payment.payment_id}
    if already_received(session, payment.payment_id):
        return {**answer, "status": "duplicate"}
    try:
        with session.begin_nested():
            session.execute(
                sa.insert(events).values(
                    kind="payment",
                    external_id=payment.payment_id,
                    payload=payment.model_dump(mode="json"),
                    received_at=now,
                )
            )
            session.execute(
                sa.insert(payments).values(
                    payment_id=payment.payment_id,
                    account_id=payment.account_id,
                    amount_fen=payment.amount_fen,
                    value_date=payment.value_date,
                    received_at=now,
                    source=payment.source,
                )
            )
    except IntegrityError:  # the same payment_id raced in from another delivery
        session.rollback()
        return {**answer, "status": "duplicate"}
    answer.update(apply_to_cases(session, payment, now))
    session.execute(
        sa.update(events)
        .where(events.c.kind == "payment", events.c.external_id == payment.payment_id)
        .values(processed_at=now)
    )
    return {**answer, "status": "applied"}


def apply_to_cases(session: Session, payment: PaymentIn, now: datetime) -> dict[str, Any]:
    """Hand the payment to the case services (promises kept or broken) when they offer it."""
    return {}


__all__ = ["PaymentIn", "ValidationError", "parse", "record"]

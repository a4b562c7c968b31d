"""Delivery receipts and call outcomes onto the case: the automated contact becomes a contact
attempt of its case, so the case's timeline, the customer view and the KPIs see what the robot
and the messages did, and the gate for people counts a robot's call by its real outcome.

One attempt per outbox message: its ``contact_id`` is the message's idempotency key (unique in
``contact_attempts``). A later event for the same message (a call outcome after a delivery
receipt) updates that attempt; a replayed event never reaches here (``inbound_events`` keeps
each event once). A message whose customer is not in the store is not linked (counted)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.store.tables import Account, Case, ContactAttempt, Customer, OutboxMessage

OUTCOME_OF_RECEIPT: Final = {
    "delivered": "delivered",
    "failed": "failed",
    "bounced": "failed",
    "rejected": "failed",
}
CALL_OUTCOMES: Final = frozenset(
    {"no_answer", "busy", "wrong_number", "left_message", "promise_to_pay", "refused_to_pay",
     "paid_already", "dispute", "hardship", "callback", "third_party", "other"}
)  # fmt: skip


def record_attempt(
    session: Session, kind: str, message: OutboxMessage, event: Mapping[str, Any], at: datetime
) -> bool:
    """The message's contact attempt, created or updated from ``event``; False when unlinked."""
    customer = session.get(Customer, message.customer_id)
    if customer is None:
        return False
    values = _values(kind, event)
    attempt = session.scalar(
        select(ContactAttempt).where(ContactAttempt.contact_id == message.idempotency_key)
    )
    if attempt is None:
        payload = message.payload or {}
        attempt = ContactAttempt(
            contact_id=message.idempotency_key,
            case_id=_case_id(session, message),
            customer_id=message.customer_id,
            account_id=_known_account(session, message),
            channel=message.channel,
            to_address=message.to_address,
            attempted_at=_when(event, message, at),
            time_zone=customer.time_zone,
            strategy=payload.get("strategy"),
            strategy_version=payload.get("strategy_version"),
            segment=payload.get("segment"),
            arm=payload.get("arm"),
        )
        session.add(attempt)
    for name, value in values.items():
        setattr(attempt, name, value)
    session.flush()
    return True


def _values(kind: str, event: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "delivery_receipt":
        delivered = event["status"] == "delivered"
        return {"connected": delivered, "right_party": False, "conversation": False,
                "outcome": OUTCOME_OF_RECEIPT[str(event["status"])]}  # fmt: skip
    connected, right_party = bool(event["connected"]), bool(event["right_party"])
    outcome = str(event.get("outcome") or "")
    if outcome not in CALL_OUTCOMES:
        outcome = "other" if right_party else ("no_answer" if not connected else "third_party")
    return {
        "connected": connected,
        "right_party": right_party and connected,
        "conversation": bool(event["conversation"]) and right_party and connected,
        "outcome": outcome,
    }


def _when(event: Mapping[str, Any], message: OutboxMessage, at: datetime) -> datetime:
    text = event.get("at")
    if text:
        moment = datetime.fromisoformat(str(text))
        if moment.tzinfo is None:
            raise ValueError(f"at: {text!r} has no UTC offset")
        return moment.astimezone(UTC)
    sent = message.sent_at or at
    return sent.replace(tzinfo=UTC) if sent.tzinfo is None else sent.astimezone(UTC)


def _case_id(session: Session, message: OutboxMessage) -> int | None:
    if message.case_id is not None and session.get(Case, message.case_id) is not None:
        return message.case_id
    return session.scalar(
        select(Case.case_id)
        .where(Case.account_id == message.account_id, Case.status != "closed")
        .order_by(Case.case_id.desc())
        .limit(1)
    )


def _known_account(session: Session, message: OutboxMessage) -> str | None:
    return message.account_id if session.get(Account, message.account_id) is not None else None

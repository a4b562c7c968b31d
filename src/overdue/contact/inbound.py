"""Inbound events: payments, delivery receipts, call outcomes and replies.

Every event is stored once in ``inbound_events`` under its (kind, external_id): a replayed event
(the provider retried its webhook, a file was loaded twice) is counted as a duplicate and does
nothing. A new payment is also recorded in the store's ``payments`` (idempotent by payment id; a
payment id seen before with other details is reported in ``conflicts``, not recorded). Payments are keyed by ``payment_id``; delivery receipts by the provider's message id (or
the idempotency key); call outcomes by the call id; replies by the provider's reply id.

A reply that says STOP / UNSUBSCRIBE / 退订 / TD (any case, half- or full-width, with trailing
punctuation) becomes an opt-out of the channel it came on, for the customer it came from (given,
or found through the outbox row sent to that address). Opt-outs are written to the store's
``channel_preferences`` when the customer is in the store; otherwise they are returned unapplied.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from overdue.contact.adapters.base import CHANNELS
from overdue.contact.keys import is_key
from overdue.contact.outbox import OUTBOX
from overdue.contact.receipts import record_attempt
from overdue.store.tables import ChannelPreference, Customer, InboundEvent, OutboxMessage

EVENTS: Table = InboundEvent.__table__  # type: ignore[assignment]
PREFERENCES: Table = ChannelPreference.__table__  # type: ignore[assignment]
CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]
KINDS = ("payment", "delivery_receipt", "call_outcome", "reply")
MAX_EVENTS_PER_CALL = 100_000
MAX_REPLY_CHARS = 2_000
MAX_EXTERNAL_ID_CHARS = 128
OPT_OUT_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "td", "退订"})
OPT_OUT_PREFIXES = ("退订",)
_SEPARATORS = re.compile(r"[\s\W_]+", re.UNICODE)
DELIVERY_STATUSES = ("delivered", "failed", "bounced", "rejected")
EXTERNAL_ID_FIELD = {
    "payment": "payment_id",
    "delivery_receipt": "provider_message_id",
    "call_outcome": "call_id",
    "reply": "reply_id",
}


class InboundError(ValueError):
    """An event that cannot be accepted: its index, field and reason."""

    def __init__(self, kind: str, row: int, field: str, reason: str) -> None:
        super().__init__(f"{kind} event {row}: {field}: {reason}")
        self.kind, self.row, self.field, self.reason = kind, row, field, reason


@dataclass(frozen=True)
class OptOut:
    customer_id: str | None
    channel: str
    address: str
    at: datetime
    source: str


@dataclass
class InboundResult:
    inserted: int = 0
    duplicates: int = 0
    opt_outs: list[OptOut] = field(default_factory=list)
    unapplied_opt_outs: list[OptOut] = field(default_factory=list)
    matched_outbox: int = 0
    payments_recorded: int = 0
    attempts_recorded: int = 0  # receipts and call outcomes on their cases' timelines
    unlinked: int = 0  # matched a message whose customer is not in the store
    conflicts: list[str] = field(default_factory=list)


def is_opt_out(text: str) -> bool:
    """True when a reply asks to stop: STOP / UNSUBSCRIBE / 退订 / TD and the usual variants.

    Full-width letters fold to ASCII (NFKC) and case is ignored; the keyword must be the whole
    reply or its first word ("Stop.", "ＳＴＯＰ", "td", "退订谢谢"), not buried in a sentence.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    words = [w for w in _SEPARATORS.split(folded) if w]
    if not words:
        return False
    if words[0] in OPT_OUT_WORDS or "".join(words) in OPT_OUT_WORDS:
        return True
    return words[0].startswith(OPT_OUT_PREFIXES)


def _text(kind: str, row: int, event: Mapping[str, Any], name: str, limit: int = 400) -> str:
    value = event.get(name)
    if value is None or not str(value).strip():
        raise InboundError(kind, row, name, "missing or empty")
    if len(str(value)) > limit:
        raise InboundError(kind, row, name, f"longer than {limit} characters")
    return str(value).strip()


def _check_payment(row: int, event: Mapping[str, Any]) -> None:
    amount = event.get("amount_fen")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InboundError("payment", row, "amount_fen", f"{amount!r} is not a whole number of fen > 0")
    _text("payment", row, event, "account_id", 64)
    value_date = event.get("value_date")
    try:
        date.fromisoformat(str(value_date))
    except ValueError:
        raise InboundError("payment", row, "value_date", f"{value_date!r} is not a date") from None


def _check_at(kind: str, row: int, event: Mapping[str, Any]) -> None:
    """The optional ``at`` of a receipt or call: ISO 8601 with its UTC offset."""
    text = event.get("at")
    if text is None:
        return
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise InboundError(kind, row, "at", f"{text!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise InboundError(kind, row, "at", f"{text!r} has no UTC offset")


def _check(kind: str, row: int, event: Mapping[str, Any]) -> None:
    if kind in ("delivery_receipt", "call_outcome"):
        _check_at(kind, row, event)
    if kind == "payment":
        _check_payment(row, event)
    elif kind == "delivery_receipt":
        status = event.get("status")
        if status not in DELIVERY_STATUSES:
            raise InboundError(kind, row, "status", f"{status!r} not one of {DELIVERY_STATUSES}")
    elif kind == "call_outcome":
        for name in ("connected", "right_party", "conversation"):
            if not isinstance(event.get(name), bool):
                raise InboundError(kind, row, name, f"{event.get(name)!r} is not true/false")
    else:
        _text(kind, row, event, "text", MAX_REPLY_CHARS)
        _text(kind, row, event, "from_address")
        if event.get("channel") not in CHANNELS:
            raise InboundError(kind, row, "channel", f"{event.get('channel')!r} is not a channel")


def _payload(event: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in event.items()}


def _insert_new(session: Session, kind: str, rows: list[dict[str, Any]]) -> set[str]:
    """Insert events, skipping (kind, external_id) already stored; the external ids inserted."""
    if not rows:
        return set()
    dialect = session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(EVENTS)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["kind", "external_id"])
        .returning(EVENTS.c.external_id)
    )
    return set(session.execute(statement).scalars())


def receive(
    session: Session,
    kind: str,
    events: Iterable[Mapping[str, Any]],
    *,
    received_at: datetime | None = None,
) -> InboundResult:
    """Store ``events`` of one ``kind`` once each and act on the new ones (see module doc)."""
    if kind not in KINDS:
        raise InboundError(kind, -1, "kind", f"not one of {KINDS}")
    stamp = (received_at or datetime.now(UTC)).astimezone(UTC)
    id_field = EXTERNAL_ID_FIELD[kind]
    fresh: dict[str, Mapping[str, Any]] = {}
    rows = []
    total = 0
    for row, event in enumerate(events):
        if row >= MAX_EVENTS_PER_CALL:
            raise InboundError(kind, row, "-", f"more than {MAX_EVENTS_PER_CALL} events in one call")
        total += 1
        external = event.get(id_field) or (event.get("idempotency_key") if kind == "delivery_receipt" else None)
        external_id = _text(kind, row, {id_field: external}, id_field, MAX_EXTERNAL_ID_CHARS)
        _check(kind, row, event)
        if external_id in fresh:
            continue
        fresh[external_id] = event
        rows.append({"kind": kind, "external_id": external_id, "payload": _payload(event),
                     "received_at": stamp, "processed_at": None})
    inserted = _insert_new(session, kind, rows)
    result = InboundResult(inserted=len(inserted), duplicates=total - len(inserted))
    for external_id in sorted(inserted):
        _act(session, kind, external_id, fresh[external_id], stamp, result)
    if inserted:
        session.execute(
            update(EVENTS)
            .where(EVENTS.c.kind == kind, EVENTS.c.external_id.in_(sorted(inserted)))
            .values(processed_at=stamp)
        )
    return result


def _outbox_customer(session: Session, channel: str, address: str) -> str | None:
    query = (
        select(OUTBOX.c.customer_id)
        .where(OUTBOX.c.channel == channel, OUTBOX.c.to_address == address)
        .order_by(OUTBOX.c.id.desc())
        .limit(1)
    )
    return session.execute(query).scalar_one_or_none()


def _act(
    session: Session,
    kind: str,
    external_id: str,
    event: Mapping[str, Any],
    stamp: datetime,
    result: InboundResult,
) -> None:
    if kind == "payment":
        _record_payment(session, external_id, event, stamp, result)
        return
    key = str(event.get("idempotency_key") or event.get("contact_id") or "")
    if kind in ("delivery_receipt", "call_outcome") and is_key(key):
        message = session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        )
        result.matched_outbox += int(message is not None)
        if message is not None:
            linked = record_attempt(session, kind, message, event, stamp)
            result.attempts_recorded += int(linked)
            result.unlinked += int(not linked)
    if kind != "reply" or not is_opt_out(str(event["text"])):
        return
    channel, address = str(event["channel"]), str(event["from_address"]).strip()
    customer = event.get("customer_id") or _outbox_customer(session, channel, address)
    opt_out = OptOut(customer, channel, address, stamp, f"reply:{external_id}")
    result.opt_outs.append(opt_out)
    if customer is None or not _apply_opt_out(session, opt_out):
        result.unapplied_opt_outs.append(opt_out)


def _record_payment(
    session: Session, payment_id: str, event: Mapping[str, Any], stamp: datetime,
    result: InboundResult,
) -> None:
    """Into the store's payments (``overdue.cases.payments.record_payment``, idempotent by id)."""
    from overdue.cases.access import Conflict
    from overdue.cases.payments import record_payment

    try:
        with session.begin_nested():
            new = record_payment(
                session,
                payment_id=payment_id,
                account_id=str(event["account_id"]),
                amount_fen=int(event["amount_fen"]),
                value_date=date.fromisoformat(str(event["value_date"])),
                source=str(event.get("source") or "inbound"),
                received_at=stamp,
            )
    except Conflict as exc:
        result.conflicts.append(str(exc))
        return
    result.payments_recorded += int(new)


def _apply_opt_out(session: Session, opt_out: OptOut) -> bool:
    """Record the opt-out in channel_preferences; False when the customer is not in the store."""
    known = session.execute(
        select(CUSTOMERS.c.customer_id).where(CUSTOMERS.c.customer_id == opt_out.customer_id)
    ).first()
    if known is None:
        return False
    dialect = session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"opted_out": True, "opted_out_at": opt_out.at, "source": opt_out.source}
    statement = insert(PREFERENCES).values(
        customer_id=opt_out.customer_id, channel=opt_out.channel, consent=False, **values
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["customer_id", "channel"], set_={**values, "consent": False}
        )
    )
    return True


def record_opt_out(
    session: Session, customer_id: str, channel: str, *, at: datetime, source: str
) -> bool:
    """Record an opt-out of ``channel`` (e.g. from the self-service page); False when the
    customer is not in the store."""
    if channel not in CHANNELS:
        raise ValueError(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    return _apply_opt_out(session, OptOut(customer_id, channel, "self-service", at, source))


def opted_out(session: Session, customer_id: str, channel: str) -> bool:
    """True when the store records an opt-out of ``channel`` for ``customer_id``."""
    query = select(PREFERENCES.c.opted_out).where(
        PREFERENCES.c.customer_id == customer_id, PREFERENCES.c.channel == channel
    )
    return bool(session.execute(query).scalar_one_or_none())


MAX_FLAG_CUSTOMERS = 5_000_000


def opt_out_flags(session: Session, customer_ids: Iterable[str] | None = None) -> pa.Table:
    """The store's channel opt-outs as the gate's flags columns.

    One row per customer with at least one opt-out (restricted to ``customer_ids`` when given):
    ``customer_id`` and ``opt_out_<channel>`` booleans for every channel — the shape
    ``overdue.compliance.gate.check`` reads (merge it with the other flags by customer_id).
    """
    query = select(PREFERENCES.c.customer_id, PREFERENCES.c.channel).where(
        PREFERENCES.c.opted_out.is_(True)
    )
    wanted = None if customer_ids is None else set(customer_ids)
    by_customer: dict[str, set[str]] = {}
    for customer_id, channel in session.execute(query):
        if wanted is None or customer_id in wanted:
            by_customer.setdefault(customer_id, set()).add(channel)
    assert len(by_customer) <= MAX_FLAG_CUSTOMERS, "too many opted-out customers for one table"
    customers = sorted(by_customer)
    columns: dict[str, Any] = {"customer_id": pa.array(customers, pa.string())}
    for channel in CHANNELS:
        columns[f"opt_out_{channel}"] = pa.array(
            [channel in by_customer[c] for c in customers], pa.bool_()
        )
    return pa.table(columns)

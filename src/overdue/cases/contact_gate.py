"""The compliance gate for people: a collector's or an agency's contact in the workbench passes
the same gate (``overdue.compliance.gate.check``) as the daily run's planned contacts.

The gate is fed from the store: the customer's flags (do-not-contact, dispute, hardship, …) and
per-channel opt-outs, and the contact history of the last ``HISTORY_DAYS`` days across the lender
and its agencies — the attempts people logged (``contact_attempts``, blocked ones left out) and the
messages the dispatcher sent (``outbox``). A sent call from the outbox has no outcome here, so it
counts as connected and as a conversation, as the gate counts a planned call: conservative for
every cap. A contact the gate blocks is recorded as a blocked attempt with its rule (the audit
trail keeps who tried what and when); it is never recorded as made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, Conflict, load_case, require
from overdue.cases.actions import log_contact_outcome
from overdue.compliance.gate import ContactHistory, check
from overdue.compliance.profile import Profile
from overdue.domain.channels import CHANNELS
from overdue.store.tables import (
    Agency,
    Case,
    ChannelPreference,
    ContactAttempt,
    Customer,
    OutboxMessage,
)

HISTORY_DAYS: Final = 8  # the longest window a rule counts (seven in seven, post-conversation)
MAX_HISTORY_ROWS: Final = 5_000  # a debtor's contacts in 8 days; beyond it something is wrong
FLAG_COLUMNS: Final = (
    "deceased",
    "bankruptcy",
    "do_not_contact",
    "cease_communication",
    "dispute",
    "vulnerable",
    "hardship",
)
CALL_CHANNELS: Final = frozenset({"voice_robot", "voice_agent"})


@dataclass(frozen=True)
class ContactVerdict:
    allowed: bool
    rule: str  # the first rule that blocks; "" when allowed
    channel: str
    at: datetime


def customer_flags(session: Session, customer: Customer) -> pa.Table:
    """One row: the customer's flags, an ``opt_out_<channel>`` column per channel and the
    contact window the debtor agreed to (local minutes; null when none)."""
    opted = set(
        session.scalars(
            select(ChannelPreference.channel).where(
                ChannelPreference.customer_id == customer.customer_id,
                ChannelPreference.opted_out.is_(True),
            )
        )
    )
    row: dict[str, list[object]] = {"customer_id": [customer.customer_id]}
    for name in FLAG_COLUMNS:
        row[name] = [bool(getattr(customer, name))]
    for channel in CHANNELS:
        row[f"opt_out_{channel}"] = [channel in opted]
    start, end = customer.contact_window_start, customer.contact_window_end
    if start is not None and end is not None:
        row["contact_window_start_minute"] = [start.hour * 60 + start.minute]
        row["contact_window_end_minute"] = [end.hour * 60 + end.minute]
    return pa.table(row)


def contact_history(session: Session, customer: Customer, at: datetime) -> ContactHistory:
    """The customer's attempts and sent messages in the ``HISTORY_DAYS`` days up to ``at``."""
    since = at - timedelta(days=HISTORY_DAYS)
    logged = _logged_attempts(session, customer, since, at)
    linked = {str(r["contact_id"]) for r in logged}  # messages already on a case (receipts)
    sent = [r for r in _sent_messages(session, customer, since, at) if r["contact_id"] not in linked]
    rows = logged + sent
    assert len(rows) <= MAX_HISTORY_ROWS, f"{customer.customer_id}: {len(rows)} contacts in 8 days"
    history = ContactHistory()
    if rows:
        history.record(pa.Table.from_pylist(rows))
    return history


def _logged_attempts(
    session: Session, customer: Customer, since: datetime, until: datetime
) -> list[dict[str, object]]:
    query = _attempts_query(
        ContactAttempt.customer_id == customer.customer_id,
        ContactAttempt.attempted_at >= since,
        ContactAttempt.attempted_at <= until,
    ).limit(MAX_HISTORY_ROWS + 1)
    return [_attempt_row(r) for r in session.execute(query)]


def _attempts_query(*conditions: Any) -> Any:
    """Attempts people, agencies and receipts logged (blocked ones left out), with the agency."""
    a = ContactAttempt
    columns = (a.id, a.contact_id, a.customer_id, a.account_id, a.channel, a.to_address,
               a.outcome, a.attempted_at, a.time_zone, a.connected, a.right_party,
               a.conversation, Agency.name)  # fmt: skip
    return (
        select(*columns)
        .outerjoin(Agency, Agency.id == a.agency_id)
        .where(a.blocked_rule.is_(None), *conditions)
    )


def _attempt_row(r: Any) -> dict[str, object]:
    """One row of :func:`_attempts_query` in the shape ``ContactHistory.record`` takes."""
    return {
        "contact_id": r.contact_id or f"attempt:{r.id}",
        "customer_id": r.customer_id,
        "account_id": r.account_id or "",
        "channel": r.channel,
        "to_address": r.to_address or "",
        "recipient_kind": "third_party" if r.outcome == "third_party" else "debtor",
        "attempted_at_utc": _utc(r.attempted_at),
        "time_zone": r.time_zone,
        "source": r.name or "lender",
        "connected": r.connected,
        "right_party": r.right_party,
        "conversation": r.conversation,
    }


def _sent_messages(
    session: Session, customer: Customer, since: datetime, until: datetime
) -> list[dict[str, object]]:
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.customer_id == customer.customer_id,
            OutboxMessage.status == "sent",
            OutboxMessage.sent_at >= since,
            OutboxMessage.sent_at <= until,
        )
        .limit(MAX_HISTORY_ROWS + 1)
    )
    rows = []
    for m in session.scalars(query):
        assert m.sent_at is not None
        call = m.channel in CALL_CHANNELS
        rows.append(
            {
                "contact_id": m.idempotency_key,
                "customer_id": m.customer_id,
                "account_id": m.account_id,
                "channel": m.channel,
                "to_address": m.to_address,
                "recipient_kind": str((m.payload or {}).get("recipient_kind") or "debtor"),
                "attempted_at_utc": _utc(m.sent_at),
                "time_zone": customer.time_zone,
                "source": "lender",
                "connected": call,
                "right_party": call,
                "conversation": call,
            }
        )
    return rows


def _utc(moment: datetime) -> datetime:
    """Stored instants are UTC; SQLite gives them back without a zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_contact(
    session: Session,
    case: Case,
    *,
    channel: str,
    at: datetime,
    profile: Profile,
    to_address: str | None = None,
    tone: str = "friendly",
) -> ContactVerdict:
    """May a person contact ``case``'s debtor on ``channel`` at ``at``? (the gate's verdict)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    customer = session.get(Customer, case.customer_id)
    assert customer is not None, f"case {case.case_id}: customer {case.customer_id} missing"
    when = _utc(at)
    planned = pa.Table.from_pylist(
        [
            {
                "contact_id": f"manual:{case.case_id}:{when.isoformat()}",
                "customer_id": customer.customer_id,
                "account_id": case.account_id,
                "channel": channel,
                "to_address": to_address or _address(customer, channel),
                "recipient_kind": "debtor",
                "planned_at_utc": when,
                "time_zone": customer.time_zone,
                "template": "manual_contact",
                "tone": tone,
            }
        ]
    )
    history = contact_history(session, customer, when)
    verdict = check(planned, history, customer_flags(session, customer), profile,
                    record_blocked=False)  # fmt: skip
    rule = str(verdict.column("blocked_rule")[0].as_py() or "")
    return ContactVerdict(allowed=not rule, rule=rule, channel=channel, at=when)


def _address(customer: Customer, channel: str) -> str:
    if channel == "email":
        return customer.email or ""
    if channel in ("letter", "field_visit"):
        return customer.address or ""
    return customer.phone or ""


class ContactBlocked(Conflict):
    """The compliance gate refused a contact (the web answers 409 and names the rule)."""

    def __init__(self, verdict: ContactVerdict, attempt_id: int) -> None:
        super().__init__(f"contact blocked by the compliance gate: {verdict.rule}")
        self.verdict, self.attempt_id = verdict, attempt_id


def attempt_contact(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    profile: Profile,
    channel: str,
    at: datetime,
    to_address: str | None = None,
    **outcome: Any,
) -> int:
    """Log a person's contact attempt behind the gate; returns the contact attempt id.

    Allowed: ``actions.log_contact_outcome`` (in a savepoint). Blocked: the attempt is recorded
    with its ``blocked_rule`` and audited, then :class:`ContactBlocked` is raised — call this
    outside any savepoint that the error would roll back, so that the record is kept."""
    require(actor, "log_contact")
    case = load_case(session, actor, case_id)
    verdict = check_contact(session, case, channel=channel, at=at, profile=profile,
                            to_address=to_address)  # fmt: skip
    if verdict.allowed:
        with session.begin_nested():
            return log_contact_outcome(session, actor, case_id, channel=channel, at=at,
                                       to_address=to_address, **outcome)  # fmt: skip
    attempt_id = _record_blocked(session, actor, case, verdict, to_address)
    raise ContactBlocked(verdict, attempt_id)


def _record_blocked(
    session: Session, actor: Actor, case: Case, verdict: ContactVerdict, to_address: str | None
) -> int:
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    with session.begin_nested():
        attempt = ContactAttempt(
            case_id=case.case_id,
            customer_id=case.customer_id,
            account_id=case.account_id,
            channel=verdict.channel,
            to_address=to_address or _address(customer, verdict.channel),
            attempted_at=verdict.at,
            time_zone=customer.time_zone,
            connected=False,
            right_party=False,
            conversation=False,
            outcome="blocked",
            user_id=actor.user_id or None,
            agency_id=actor.agency_id,
            blocked_rule=verdict.rule,
        )
        session.add(attempt)
        session.flush()
        audit.record(session, actor, "contact_blocked", "case", case.case_id,
                     details={"contact_attempt_id": attempt.id, "channel": verdict.channel,
                              "rule": verdict.rule}, at=verdict.at)  # fmt: skip
    return attempt.id


MAX_STORE_ATTEMPTS: Final = 20_000_000  # people's attempts in the window, across the book


def people_attempts(store_url: str, first: datetime, until: datetime) -> pa.Table:
    """The attempts people and agencies logged in the store in [first, until), blocked ones
    left out, in the shape ``ContactHistory.record`` takes: the daily run adds them to the
    history its gate counts, so a collector's calls this morning count toward today's caps."""
    from overdue.store.db import make_engine

    engine = make_engine(store_url)
    query = _attempts_query(
        ContactAttempt.attempted_at >= first,
        ContactAttempt.attempted_at < until,
        ContactAttempt.contact_id.is_(None),  # the daily run's own messages it knows already
    ).limit(MAX_STORE_ATTEMPTS + 1)
    try:
        with engine.connect() as conn:
            rows = [_attempt_row(r) for r in conn.execute(query)]
    finally:
        engine.dispose()
    assert len(rows) <= MAX_STORE_ATTEMPTS, f"more than {MAX_STORE_ATTEMPTS} attempts in the window"
    return pa.Table.from_pylist(rows) if rows else pa.table({})

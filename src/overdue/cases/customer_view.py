"""One customer across all their accounts: every case, the total overdue, every contact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases.access import Actor, NotAllowed, NotFound, may_see_case
from overdue.cases.masking import mask_address_for_channel
from overdue.cases.views import CustomerView, customer_view
from overdue.store.tables import Account, Case, ContactAttempt, Customer

MAX_CONTACTS = 500


@dataclass(frozen=True)
class CustomerOverview:
    customer: CustomerView
    accounts: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    total_overdue_fen: int
    contacts: list[dict[str, Any]]


def customer_overview(
    session: Session,
    actor: Actor,
    customer_id: str,
    *,
    reason: str | None = None,
    at: datetime | None = None,
) -> CustomerOverview:
    """The customer page: collectors and agencies only for customers they hold a case of."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id}: not found")
    cases = session.scalars(
        select(Case).where(Case.customer_id == customer_id).order_by(Case.case_id)
    ).all()
    if actor.role in {"collector", "agency"} and not any(may_see_case(actor, c) for c in cases):
        raise NotAllowed(f"customer {customer_id}: none of their cases is yours")
    accounts = session.scalars(
        select(Account).where(Account.customer_id == customer_id).order_by(Account.account_id)
    ).all()
    contacts = session.scalars(
        select(ContactAttempt)
        .where(ContactAttempt.customer_id == customer_id)
        .order_by(ContactAttempt.attempted_at.desc())
        .limit(MAX_CONTACTS)
    ).all()
    person = customer_view(session, actor, customer, own_case=True, reason=reason, at=at)
    open_cases = [c for c in cases if c.status != "closed"]
    return CustomerOverview(
        customer=person,
        accounts=[
            {
                "account_id": a.account_id,
                "product": a.product,
                "status": a.status,
                "dpd": a.dpd,
                "bucket_cn": a.bucket_cn,
                "total_overdue_fen": a.total_overdue_fen,
            }
            for a in accounts
        ],
        cases=[
            {
                "case_id": c.case_id,
                "account_id": c.account_id,
                "status": c.status,
                "dpd": c.dpd,
                "overdue_fen": c.overdue_fen,
                "visible": may_see_case(actor, c),
            }
            for c in cases
        ],
        total_overdue_fen=sum(c.overdue_fen for c in open_cases),
        contacts=[
            {
                "contact_attempt_id": c.id,
                "case_id": c.case_id,
                "account_id": c.account_id,
                "channel": c.channel,
                "to_address": mask_address_for_channel(c.channel, c.to_address),
                "attempted_at": c.attempted_at,
                "outcome": c.outcome,
                "right_party": c.right_party,
                "blocked_rule": c.blocked_rule,
            }
            for c in contacts
        ],
    )

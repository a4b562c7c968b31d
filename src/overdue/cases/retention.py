"""Retention: collection records are kept (at least 5 years, configurable); the personal data
of customers whose last case closed longer ago than that is purged, in batches, on a schedule
(``overdue cases purge --as-of DATE``). Cases, contacts, promises and the audit log stay; the
customer's name, phone, e-mail, address and ID number, their contact points and the addresses
on their contacts are erased."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, require
from overdue.cases.clock import start_of
from overdue.cases.config import RetentionRule
from overdue.store.tables import Case, ContactAttempt, ContactPoint, Customer

PURGED = "[purged]"


def years_before(as_of: date, years: int) -> date:
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - years, day=28)


def purge_candidates(session: Session, as_of: date, rule: RetentionRule) -> list[str]:
    """Customers with cases, none open, the last closed before ``as_of`` − keep_years."""
    cutoff = years_before(as_of, rule.keep_years)
    still_open = exists().where(
        and_(Case.customer_id == Customer.customer_id, Case.status != "closed")
    )
    last_closed = (
        select(func.max(Case.closed_on))
        .where(Case.customer_id == Customer.customer_id)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            select(Customer.customer_id)
            .where(
                Customer.personal_data_purged_on.is_(None),
                ~still_open,
                last_closed < cutoff,
            )
            .order_by(Customer.customer_id)
            .limit(rule.batch_size)
        )
    )


def purge_personal_data(session: Session, actor: Actor, as_of: date, rule: RetentionRule) -> int:
    """Purge one batch (``rule.batch_size`` customers); returns how many were purged."""
    require(actor, "retention")
    ids = purge_candidates(session, as_of, rule)
    if not ids:
        return 0
    session.execute(
        update(Customer)
        .where(Customer.customer_id.in_(ids))
        .values(
            name=None,
            phone=None,
            email=None,
            address=None,
            id_number=None,
            contact_window_start=None,
            contact_window_end=None,
            personal_data_purged_on=as_of,
        )
    )
    session.execute(
        update(ContactPoint).where(ContactPoint.customer_id.in_(ids)).values(value=PURGED)
    )
    session.execute(
        update(ContactAttempt).where(ContactAttempt.customer_id.in_(ids)).values(to_address=None)
    )
    audit.record(
        session,
        actor,
        "purge_personal_data",
        "customer",
        None,
        details={"customers": len(ids), "keep_years": rule.keep_years},
        at=start_of(as_of),
    )
    return len(ids)

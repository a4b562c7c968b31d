"""What the operational store knows for the bureau extract: notices and agency placements.

A **notice** is a message sent to the debtor (not to a third party) whose text mentions the
credit record: every reminder and collection message carries the education block that says so
(``contact/templates/*/_education.txt.j2``), and this module checks the sent text rather than
trusting that. Its date is the message's business date (``outbox.as_of``), never a wall clock.
An account is **placed** while one of its open cases is held by an agency.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overdue.reports.credit_bureau import Notices
from overdue.store.tables import Case, OutboxMessage

CREDIT_RECORD_WORDS = ("征信", "credit report", "credit bureau", "Credit Reference Center")
MAX_NOTICE_ROWS = 50_000_000
FETCH_ROWS = 10_000


def notices_from_store(session: Session, since: date, until: date) -> Notices:
    """Notices sent from ``since`` to ``until`` (business dates) and today's placements."""
    assert since <= until, "an empty notice window"
    mentions = or_(*[OutboxMessage.body.contains(word) for word in CREDIT_RECORD_WORDS])
    query = (
        select(OutboxMessage.account_id, OutboxMessage.as_of, OutboxMessage.payload)
        .where(OutboxMessage.status == "sent")
        .where(OutboxMessage.as_of >= since, OutboxMessage.as_of <= until)
        .where(mentions)
        .execution_options(yield_per=FETCH_ROWS)
    )
    sent_on: dict[str, list[date]] = defaultdict(list)
    for seen, (account_id, day, payload) in enumerate(session.execute(query), start=1):
        assert seen <= MAX_NOTICE_ROWS, f"more than {MAX_NOTICE_ROWS} notices in the window"
        if (payload or {}).get("recipient_kind", "debtor") == "debtor":
            sent_on[account_id].append(day)
    placed = session.scalars(
        select(Case.account_id).where(Case.status != "closed", Case.agency_id.is_not(None))
    )
    return Notices(sent_on=dict(sent_on), placed=frozenset(placed))

"""Notices for the credit-bureau extract, read from the store (SQLite and PostgreSQL): a sent
message to the debtor that mentions the credit record counts on its business date; a queued one,
one to a third party or one that says nothing of the credit record does not."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from contact_rows import AS_OF, outbox_rows
from sqlalchemy import Engine, insert, update

from overdue.contact.outbox import enqueue
from overdue.reports.bureau_notices import CREDIT_RECORD_WORDS, notices_from_store
from overdue.store.db import session_scope
from overdue.store.tables import Account, Agency, Case, Customer, OutboxMessage

TEMPLATES = Path(__file__).parents[2] / "src" / "overdue" / "contact" / "templates"
NOTICE = "逾期信息将报送人民银行征信中心。Overdue payments are reported to the PBOC Credit Reference Center."


def _messages(engine: Engine) -> None:
    rows = outbox_rows(5, channels=("sms",))
    rows[0]["body"] = NOTICE  # A000000: counts
    rows[1]["body"] = NOTICE  # A000001: to a third party
    rows[1]["payload"] = {"recipient_kind": "third_party"}
    rows[2]["body"] = NOTICE  # A000002: still queued
    rows[3]["body"] = "Your bill is due."  # A000003: no word of the credit record
    rows[4]["body"] = NOTICE  # A000004: sent a day after the window
    rows[4]["as_of"] = AS_OF + timedelta(days=1)
    with session_scope(engine) as session:
        enqueue(session, rows)
        sent = ["A000000", "A000001", "A000003", "A000004"]
        session.execute(
            update(OutboxMessage).where(OutboxMessage.account_id.in_(sent)).values(status="sent")
        )


def _placed_case(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.execute(insert(Customer).values(customer_id="C9", time_zone="Asia/Shanghai"))
        session.execute(insert(Account).values(
            account_id="A9", customer_id="C9", product="installment", policy="jiebei-like",
            status="overdue", dpd=95, bucket_cn="M4", snapshot_as_of=AS_OF))  # fmt: skip
        agency = session.execute(
            insert(Agency).values(code="bureau-notices-test", name="Agency 1").returning(Agency.id)
        ).scalar_one()
        session.execute(insert(Case).values(
            account_id="A9", customer_id="C9", opened_on=AS_OF, dpd=95, bucket_cn="M4",
            overdue_fen=10_000, balance_fen=10_000, updated_on=AS_OF, agency_id=agency))  # fmt: skip


def test_notices_and_placements_from_the_store(store_engine: Engine) -> None:
    _messages(store_engine)
    _placed_case(store_engine)
    with session_scope(store_engine) as session:
        notices = notices_from_store(session, date(2026, 1, 1), AS_OF)
    assert dict(notices.sent_on) == {"A000000": [AS_OF]}
    assert notices.placed == frozenset({"A9"})
    assert notices.told_between("A000000", AS_OF, AS_OF)
    assert not notices.told_between("A000000", AS_OF + timedelta(days=1), AS_OF + timedelta(days=9))


def test_every_education_block_names_the_credit_record() -> None:
    for language in ("zh-CN", "en"):
        text = (TEMPLATES / language / "_education.txt.j2").read_text(encoding="utf-8")
        assert any(word in text for word in CREDIT_RECORD_WORDS), language

"""Outbox rows from a gated plan (contracts.md shape 2 plus allowed / blocked_rule)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
from sqlalchemy import Engine, select

from overdue.contact.keys import contact_key
from overdue.contact.outbox import OUTBOX, enqueue, rows_from_planned
from overdue.store.db import session_scope

AS_OF = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)


def _planned() -> pa.Table:
    accounts = ["A1", "A2", "A3"]
    channels = ["sms", "email", "voice_robot"]
    return pa.table({
        "contact_id": [contact_key(AS_OF, a, "pre-1", c) for a, c in zip(accounts, channels, strict=True)],
        "as_of": pa.array([AS_OF] * 3, pa.date32()),
        "customer_id": ["C1", "C2", "C3"],
        "account_id": accounts,
        "channel": channels,
        "to_address": ["13800000001", "c2@example.com", "13800000003"],
        "recipient_kind": ["debtor"] * 3,
        "planned_at_utc": pa.array([AT] * 3, pa.timestamp("us", tz="UTC")),
        "time_zone": ["Asia/Shanghai"] * 3,
        "language": ["zh-CN", "en", "zh-CN"],
        "template": ["sms_friendly", "email_firm", "voice_robot_friendly"],
        "tone": ["friendly", "firm", "friendly"],
        "strategy": ["default"] * 3,
        "strategy_version": ["1"] * 3,
        "segment": ["early"] * 3,
        "arm": ["champion", "challenger-a", "champion"],
        "step_id": ["pre-1"] * 3,
        "priority": [1, 2, 3],
        "reason": ["D-3 reminder"] * 3,
        "allowed": [True, True, False],
        "blocked_rule": ["", "", "quiet_hours"],
    })


def test_only_allowed_contacts_enter_the_outbox_with_their_decision(store_engine: Engine) -> None:
    def render(row: dict) -> tuple[str | None, str]:
        subject = "Payment reminder" if row["channel"] == "email" else None
        return subject, f"{row['template']} for {row['account_id']}"

    rows = rows_from_planned(_planned(), render)
    assert [r["account_id"] for r in rows] == ["A1", "A2"]
    with session_scope(store_engine) as session:
        assert enqueue(session, rows, now=AT) == (2, 0)
        assert enqueue(session, rows_from_planned(_planned(), render), now=AT) == (0, 2)
    with store_engine.connect() as connection:
        stored = connection.execute(select(OUTBOX).order_by(OUTBOX.c.id)).all()
    assert [s.idempotency_key for s in stored] == _planned().column("contact_id").to_pylist()[:2]
    assert stored[1].subject == "Payment reminder" and stored[0].subject is None
    assert stored[1].payload["arm"] == "challenger-a" and stored[0].payload["template"] == "sms_friendly"
    assert stored[0].next_attempt_at == AT and stored[0].as_of == AS_OF

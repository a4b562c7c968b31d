"""Rendered with the shipped templates, enqueued, dispatched: what the receivers get is the
rendered message, under the contact's key."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
from contact_receivers import SmtpReceiver, WebhookReceiver
from sqlalchemy import Engine

from overdue.contact.adapters.base import Adapter
from overdue.contact.adapters.smtp import SmtpAdapter, SmtpConfig
from overdue.contact.adapters.webhook import WebhookAdapter, WebhookEndpoint
from overdue.contact.dispatcher import DispatchSettings, dispatch
from overdue.contact.keys import contact_key
from overdue.contact.outbox import enqueue, rows_from_planned
from overdue.contact.render import render_planned
from overdue.store.db import session_scope

AS_OF = date(2026, 11, 28)
AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
SECRET = "e2e"


def _planned() -> pa.Table:
    channels = ["email", "sms", "email"]
    languages = ["zh-CN", "zh-CN", "en"]
    accounts = ["A1", "A2", "A3"]
    n = len(channels)
    return pa.table({
        "contact_id": [contact_key(AS_OF, a, "d3", c) for a, c in zip(accounts, channels, strict=True)],
        "as_of": pa.array([AS_OF] * n, pa.date32()),
        "customer_id": ["C1", "C2", "C3"],
        "account_id": accounts,
        "channel": channels,
        "to_address": ["li@example.com", "13800000002", "jane@example.com"],
        "recipient_kind": ["debtor"] * n,
        "planned_at_utc": pa.array([AT] * n, pa.timestamp("us", tz="UTC")),
        "time_zone": ["Asia/Shanghai"] * n,
        "language": languages,
        "template": [f"{c}_friendly" for c in channels],
        "tone": ["friendly"] * n,
        "strategy": ["default"] * n,
        "strategy_version": ["1"] * n,
        "segment": ["early"] * n,
        "arm": ["champion"] * n,
        "step_id": ["d3"] * n,
        "priority": [1] * n,
        "reason": ["reminder"] * n,
        "allowed": [True] * n,
        "blocked_rule": [""] * n,
        "customer_name": ["李华", "王芳", "Jane Roe"],
        "currency": ["CNY", "CNY", "CNY"],
        "due_date": pa.array([date(2026, 11, 10)] * n, pa.date32()),
        "dpd": [18, 18, 18],
        "amount_due_fen": [123_450, 50_000, 99_999],
        "penalty_fen": [1_230, 400, 800],
        "penalty_in_7_days_fen": [1_662, 540, 1_080],
    })


def test_rendered_messages_arrive_as_rendered(store_engine: Engine) -> None:
    planned = _planned()
    expected = {r["contact_id"]: render_planned(r) for r in planned.to_pylist()}
    assert "¥1,234.50" in expected[planned["contact_id"][0].as_py()][0]  # the subject
    with session_scope(store_engine) as session:
        assert enqueue(session, rows_from_planned(planned, render_planned), now=AT) == (3, 0)
    with SmtpReceiver() as smtp, WebhookReceiver(SECRET) as hook:
        web = WebhookAdapter({"sms": WebhookEndpoint(hook.url("sms"), SECRET)})
        adapters: dict[str, Adapter] = {"email": SmtpAdapter(SmtpConfig(smtp.host, smtp.port)),
                                        "sms": web}
        summary = dispatch(store_engine, adapters, worker_id="e2e",
                           settings=DispatchSettings(once=True), now_fn=lambda: AT)
    assert summary.sent == 3
    for key, info in smtp.arrivals.log:
        subject, body = expected[key]
        received = info["body"].replace("\r\n", "\n")  # SMTP carries CRLF line ends
        assert info["subject"] == subject and received.strip() == body.strip()
    [(key, document)] = hook.arrivals.log
    assert document["body"] == expected[key][1] and document["subject"] is None
    assert "王芳" in document["body"]

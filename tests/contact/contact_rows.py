"""Outbox rows for tests and the bench."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from overdue.contact.keys import contact_key

AS_OF = date(2026, 11, 28)
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CHANNEL_ADDRESS = {"email": "c{n}@example.com", "sms": "138{n:08d}", "push": "device-{n}",
                   "voice_robot": "139{n:08d}", "letter": "上海市 {n} 号"}


def outbox_rows(count: int, channels: tuple[str, ...] = ("email", "sms", "push"),
                step: str = "d1", at: datetime = T0) -> list[dict[str, Any]]:
    rows = []
    for n in range(count):
        channel = channels[n % len(channels)]
        account = f"A{n:06d}"
        rows.append({
            "idempotency_key": contact_key(AS_OF, account, step, channel),
            "channel": channel,
            "to_address": CHANNEL_ADDRESS[channel].format(n=n),
            "subject": f"还款提醒 {n}" if channel == "email" else None,
            "body": f"尊敬的客户，您的账单 {n} 已逾期。Your bill {n} is overdue.",
            "payload": {"strategy": "default", "arm": "champion"},
            "as_of": AS_OF,
            "customer_id": f"C{n:06d}",
            "account_id": account,
            "next_attempt_at": at,
        })
    return rows

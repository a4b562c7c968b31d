"""Agency allowances and the audit of what agencies report back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa

from overdue.compliance.agency import agency_allowance, audit_agency_contacts, breaches_by_agency
from overdue.compliance.history import ContactHistory
from overdue.compliance.profile import load_profile

SH = "Asia/Shanghai"
NY = "America/New_York"


def attempt(
    cid: str,
    hour: int,
    *,
    zone: str = SH,
    day: int = 3,
    connected: bool = False,
    source: str = "lender",
    conversation: bool | None = None,
    number: str = "",
) -> dict:
    local = datetime(2024, 6, day, hour, 0, tzinfo=ZoneInfo(zone))
    row = {
        "contact_id": f"{source}-{cid}-{day}-{hour}",
        "customer_id": cid,
        "account_id": f"A-{cid}",
        "channel": "voice_agent",
        "to_address": number or f"tel:{cid}",
        "attempted_at_utc": local.astimezone(UTC),
        "time_zone": zone,
        "source": source,
        "connected": connected,
    }
    if conversation is not None:
        row["conversation"] = conversation
    return row


def test_cn_allowance_is_the_connected_cap_minus_todays_connected_calls() -> None:
    history = ContactHistory()
    history.record(
        pa.Table.from_pylist(
            [
                attempt("C1", 9, connected=True),
                attempt("C1", 10, connected=True, source="agency-a"),
                attempt("C1", 11),
                attempt("C2", 9, connected=True, day=2),
            ]
        )
    )
    customers = pa.table({"customer_id": ["C1", "C2", "C3"]})
    table = agency_allowance(history, customers, date(2024, 6, 3), load_profile("cn"))
    assert table.column("remaining_calls_today").to_pylist() == [1, 3, 3]


def test_us_allowance_counts_seven_days_and_bars_after_a_conversation() -> None:
    history = ContactHistory()
    rows = [attempt("C1", 10, zone=NY, day=d) for d in range(1, 6)]
    rows.append(attempt("C2", 10, zone=NY, day=2, connected=True, conversation=True))
    history.record(pa.Table.from_pylist(rows))
    customers = pa.table({"customer_id": ["C1", "C2"]})
    table = agency_allowance(history, customers, date(2024, 6, 5), load_profile("us"))
    assert table.column("remaining_calls_today").to_pylist() == [2, 0]
    assert table.column("calls_barred_until").to_pylist() == [None, date(2024, 6, 9)]


def test_audit_flags_breaches_per_agency_counting_the_lender_too() -> None:
    history = ContactHistory()
    history.record(
        pa.Table.from_pylist(
            [
                attempt("C1", 9, connected=True),
                attempt("C1", 10, connected=True),
            ]
        )
    )
    reported = pa.Table.from_pylist(
        [
            attempt("C1", 11, connected=True, source="agency-a"),  # 3rd connected: fine
            attempt("C1", 12, connected=True, source="agency-b"),  # 4th: breach
            attempt("C2", 23, source="agency-a"),  # 23:00 local: quiet hours
            attempt("C3", 14, source="agency-b"),
        ]
    )
    audited = audit_agency_contacts(reported, history, load_profile("cn"))
    assert audited.column("breach_rule").to_pylist() == [
        "",
        "daily_connected_cap",
        "quiet_hours",
        "",
    ]
    assert breaches_by_agency(audited) == {
        "agency-b": {"daily_connected_cap": 1},
        "agency-a": {"quiet_hours": 1},
    }


def test_audit_us_post_conversation_and_seven_in_seven() -> None:
    history = ContactHistory()
    reported = pa.Table.from_pylist(
        [attempt("C1", 10, zone=NY, day=d, source="agency-a") for d in range(1, 8)]
        + [attempt("C1", 15, zone=NY, day=7, source="agency-a")]  # the 8th in 7 days
        + [
            attempt("C2", 10, zone=NY, day=1, source="agency-a", connected=True, conversation=True),
            attempt("C2", 12, zone=NY, day=7, source="agency-a"),
            attempt("C2", 12, zone=NY, day=8, source="agency-a"),
        ]
    )
    rules = audit_agency_contacts(reported, history, load_profile("us")).column("breach_rule")
    assert rules.to_pylist() == [""] * 7 + ["seven_in_seven", "", "post_conversation", ""]

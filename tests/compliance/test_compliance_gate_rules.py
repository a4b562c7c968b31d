"""The gate, rule by rule: order, local time, sequential counting, history across agencies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa

from overdue.compliance.gate import RULES, check
from overdue.compliance.history import ContactHistory
from overdue.compliance.profile import load_profile
from overdue.strategy.decide import PLANNED_SCHEMA

CN = load_profile("cn")
US = load_profile("us")


def row(
    hour: int,
    minute: int = 0,
    *,
    channel: str = "voice_agent",
    zone: str = "Asia/Shanghai",
    customer: str = "C1",
    third: bool = False,
    template: str = "",
    tone: str = "firm",
    day: int = 3,
) -> dict[str, object]:
    local = datetime(2024, 6, day, hour, minute, tzinfo=ZoneInfo(zone))
    return {
        "contact_id": f"{customer}-{channel}-{day}-{hour}-{minute}-{third}",
        "as_of": date(2024, 6, day),
        "customer_id": customer,
        "account_id": f"A-{customer}",
        "channel": channel,
        "to_address": f"tel:{customer}" + ("-ec" if third else ""),
        "recipient_kind": "third_party" if third else "debtor",
        "planned_at_utc": local.astimezone(UTC),
        "time_zone": zone,
        "language": "en",
        "template": template or f"{channel}_{tone}",
        "tone": tone,
        "strategy": "t",
        "strategy_version": "1",
        "segment": "s",
        "arm": "champion",
        "step_id": "x",
        "priority": 1,
        "reason": "",
    }


def table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=PLANNED_SCHEMA)


def rules(rows: list[dict[str, object]], profile=CN, history=None, flags=None) -> list[str]:
    out = check(table(rows), history or ContactHistory(), flags, profile)
    assert out.column("allowed").to_pylist() == [
        r == "" for r in out.column("blocked_rule").to_pylist()
    ]
    return out.column("blocked_rule").to_pylist()


def test_quiet_hours_are_in_the_customers_own_zone() -> None:
    assert rules(
        [row(21, 59), row(22, 0), row(7, 59, customer="C2"), row(8, 0, customer="C3")]
    ) == ["", "quiet_hours", "quiet_hours", ""]
    # 09:30 in Shanghai is 21:30 in New York the evening before: quiet there under us
    ny = row(21, 30, zone="America/New_York")
    assert rules([ny], US) == ["quiet_hours"]
    assert rules([row(20, 59, zone="America/New_York")], US) == [""]
    assert rules([row(23, 0, channel="email", tone="friendly")]) == ["quiet_hours"]
    assert rules([row(23, 0, channel="letter")]) == [""]


def test_the_first_rule_in_order_is_reported() -> None:
    flags = pa.table({"customer_id": ["C1"], "deceased": [True], "dispute": [True]})
    assert rules([row(23)], flags=flags) == ["deceased"]
    flags = pa.table({"customer_id": ["C1"], "opt_out_sms": [True], "hardship": [True]})
    assert rules(
        [row(10, channel="sms"), row(11, channel="voice_agent", tone="friendly")], flags=flags
    ) == ["opt_out", ""]
    assert rules([row(11, channel="voice_agent", tone="firm")], flags=flags) == ["hardship"]
    assert list(RULES[1:6]) == [
        "deceased",
        "bankruptcy",
        "do_not_contact",
        "cease_communication",
        "dispute",
    ]


def test_third_parties_only_get_locate_templates() -> None:
    assert rules([row(10, third=True)]) == ["third_party_debt"]
    assert rules([row(10, third=True, template="voice_agent_locate")]) == [""]


def test_a_batch_counts_what_it_already_allowed() -> None:
    # cn: every allowed call may connect, so the 4th call of the day is held back
    got = rules([row(h) for h in (9, 10, 11, 12)])
    assert got == ["", "", "", "daily_connected_cap"]
    # us: one allowed call may become a conversation, so no second call about the debt
    got = rules([row(h, zone="America/Chicago") for h in (9, 10)], US)
    assert got == ["", "post_conversation"]


def test_the_history_counts_agencies_too() -> None:
    history = ContactHistory()
    made = [row(8), row(9)]
    outcomes = (
        table(made)
        .append_column("connected", pa.array([True, True]))
        .append_column("source", pa.array(["agency-a", "agency-b"]))
    )
    history.record(outcomes)
    assert rules([row(10), row(11)], history=history) == ["", "daily_connected_cap"]
    assert history.blocked_by_rule() == {"daily_connected_cap": 1}


def test_history_round_trips_through_parquet(tmp_path: Path) -> None:
    history = ContactHistory()
    history.record(
        table([row(8), row(9, customer="C2")]).append_column("connected", pa.array([True, False]))
    )
    check(table([row(23)]), history, None, CN)
    history.save(tmp_path / "h")
    again = ContactHistory.load(tmp_path / "h")
    assert again.attempts().equals(history.attempts())
    assert again.blocked_by_rule() == {"quiet_hours": 1}
    assert again.attempts().column("local_date").to_pylist() == [date(2024, 6, 3)] * 2

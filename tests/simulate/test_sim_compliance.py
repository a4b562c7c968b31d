"""Simulated contacts against the collection rules, checked independently of the gate.

The checker below reads only ``contacts.csv``, ``customers.csv`` and ``flags.csv`` with plain
loops and applies domain.md §4 as written there; it imports nothing from the compliance code.
A small book (1,000 accounts × 20 days) runs both shipped strategies under each profile.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from overdue.strategy.simulate import SimConfig, simulate

ACCOUNTS = 1000
DAYS = 20
TIMED_CHANNELS = {"push", "sms", "email", "voice_robot", "voice_agent", "field_visit"}
CALLS = {"voice_robot", "voice_agent"}
STOP_EVERYTHING = {"do_not_contact", "dispute", "deceased", "bankruptcy", "cease_communication"}
QUIET = {"cn": (8, 22), "us": (8, 21)}  # allowed local hours [start, end)


@pytest.fixture(scope="module", params=["cn", "us"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    profile = request.param
    out = tmp_path_factory.mktemp(f"sim-{profile}")
    simulate(
        SimConfig(
            accounts=ACCOUNTS,
            days=DAYS,
            strategy="aggressive",
            vs="default",
            profile=profile,
            seed=11,
            out=out,
        )
    )
    return profile, out


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _violations(profile: str, out: Path) -> list[str]:
    """Every sent contact that breaks a rule of ``profile`` (plain loops, domain.md §4)."""
    zones = {r["customer_id"]: r["time_zone"] for r in _read(out / "customers.csv")}
    flags: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
    for r in _read(out / "flags.csv"):
        flags[(r["customer_id"], r["flag"])].append(
            (r["strategy"], datetime.fromisoformat(r["from_utc"]))
        )
    problems: list[str] = []
    connected_calls: dict[tuple[str, str, date], int] = defaultdict(int)
    unanswered: dict[tuple[str, str, date], int] = defaultdict(int)
    calls_by_debt: dict[tuple[str, str, str], list[date]] = defaultdict(list)
    conversations: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    right_party_days: dict[tuple[str, str], list[date]] = defaultdict(list)
    sent = [r for r in _read(out / "contacts.csv") if r["blocked_rule"] == ""]
    sent.sort(key=lambda r: (r["strategy"], datetime.fromisoformat(r["attempted_at"])))

    def flagged(strategy: str, customer: str, flag: str, at: datetime) -> bool:
        return any(s in ("", strategy) and since < at for s, since in flags[(customer, flag)])

    for r in sent:
        who, strategy, channel = r["customer_id"], r["strategy"], r["channel"]
        at = datetime.fromisoformat(r["attempted_at"])
        zone = ZoneInfo(zones[who])
        local = at.astimezone(zone)
        if at.utcoffset() != local.utcoffset():
            problems.append(f"{r['contact_id']}: offset {at.utcoffset()} is not {zone}'s")
        start, end = QUIET[profile]
        if channel in TIMED_CHANNELS and not start <= local.hour < end:
            problems.append(f"{r['contact_id']}: {channel} at {local.time()} local ({profile})")
        for flag in STOP_EVERYTHING:
            if flagged(strategy, who, flag, at):
                problems.append(f"{r['contact_id']}: {channel} to a customer flagged {flag}")
        if flagged(strategy, who, f"opt_out_{channel}", at):
            problems.append(f"{r['contact_id']}: {channel} after an opt-out of it")
        third = r["recipient_kind"] == "third_party"
        day = local.date()
        if third:
            recent = [d for d in right_party_days[(strategy, who)] if day - d < timedelta(days=7)]
            if recent:
                problems.append(
                    f"{r['contact_id']}: third party called, debtor reached {recent[-1]}"
                )
        if channel in CALLS:
            debt = (strategy, who, r["account_id"])
            if profile == "cn":
                if r["connected"] == "true" and not third:
                    connected_calls[(strategy, who, day)] += 1
                    if connected_calls[(strategy, who, day)] > 3:
                        problems.append(f"{r['contact_id']}: 4th connected call on {day}")
                if r["connected"] == "false":
                    unanswered[(strategy, r["to_address"], day)] += 1
                    if unanswered[(strategy, r["to_address"], day)] > 6:
                        problems.append(f"{r['contact_id']}: 7th unanswered call to a number")
            else:
                window = [d for d in calls_by_debt[debt] if day - d < timedelta(days=7)]
                if len(window) >= 7:
                    problems.append(f"{r['contact_id']}: 8th call attempt in 7 days")
                for talk in conversations[debt]:
                    talk_day = talk.astimezone(zone).date()
                    if talk < at and day - talk_day < timedelta(days=7):
                        problems.append(f"{r['contact_id']}: call within 7 days of a conversation")
                        break
                calls_by_debt[debt].append(day)
                if r["right_party"] == "true" and r["connected"] == "true" and not third:
                    conversations[debt].append(at)
        if r["right_party"] == "true" and not third:
            right_party_days[(strategy, who)].append(day)
    return problems


def test_no_sent_contact_breaks_the_profile(run: tuple[str, Path]) -> None:
    profile, out = run
    rows = _read(out / "contacts.csv")
    assert rows, "the strategies made contacts"
    assert any(r["blocked_rule"] == "" for r in rows)
    problems = _violations(profile, out)
    assert problems == [], f"{len(problems)} violations, first: {problems[:5]}"


def test_aggressive_strategy_is_held_back_by_rule(run: tuple[str, Path]) -> None:
    profile, out = run
    summary = json.loads((out / "summary.json").read_text())
    aggressive = summary["strategies"]["strategy"]["all"]["blocked_by_rule"]
    assert aggressive.get("quiet_hours", 0) > 0
    cap_rule = "daily_connected_cap" if profile == "cn" else "post_conversation"
    assert sum(aggressive.values()) > 1000
    assert (
        cap_rule in aggressive or "unanswered_cap" in aggressive or "seven_in_seven" in aggressive
    )
    default = summary["strategies"]["vs"]["all"]["blocked_by_rule"]
    assert sum(default.values()) < sum(aggressive.values()) / 10
    blocked_rows = [r for r in _read(out / "contacts.csv") if r["blocked_rule"]]
    by_rule: dict[str, int] = defaultdict(int)
    for r in blocked_rows:
        if r["strategy"] == "strategy":
            by_rule[r["blocked_rule"]] += 1
    assert dict(by_rule) == aggressive, "contacts.csv and summary.json count the same blocks"


def test_checker_catches_a_night_call(run: tuple[str, Path], tmp_path: Path) -> None:
    """The checker is not vacuous: one sent call moved to 23:30 local is reported."""
    profile, out = run
    rows = _read(out / "contacts.csv")
    call = next(r for r in rows if r["blocked_rule"] == "" and r["channel"] in CALLS)
    at = datetime.fromisoformat(call["attempted_at"])
    call["attempted_at"] = at.replace(hour=23, minute=30).isoformat()
    for name in ("customers.csv", "flags.csv"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    with (tmp_path / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert any("local" in p for p in _violations(profile, tmp_path))


def test_contacts_csv_columns_and_times(run: tuple[str, Path]) -> None:
    _, out = run
    with (out / "contacts.csv").open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:10] == [
        "contact_id", "customer_id", "account_id", "channel", "to_address", "attempted_at",
        "connected", "right_party", "outcome", "blocked_rule",
    ]  # fmt: skip
    for r in _read(out / "contacts.csv")[:500]:
        assert r["connected"] in ("true", "false") and r["right_party"] in ("true", "false")
        at = datetime.fromisoformat(r["attempted_at"])
        assert at.tzinfo is not None and at.astimezone(UTC)
        assert (r["blocked_rule"] == "") == (r["outcome"] != "blocked")

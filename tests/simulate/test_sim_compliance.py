"""Simulated contacts against the collection rules, checked independently of the gate.

The checker below reads only ``contacts.csv``, ``customers.csv``, ``flags.csv`` and
``summary.json`` with plain loops and applies domain.md §4 (and the hardship / vulnerable rules
of docs/strategy/compliance.md) as written there; it imports nothing from the compliance code.
By default a small book (1,000 accounts × 20 days) runs both shipped strategies under each
profile. ``OVERDUE_SIM_RESULTS=/path/to/out`` checks the outputs of an earlier ``overdue
simulate`` run instead (its profile from its ``summary.json``), streaming ``contacts.csv`` so
that a 90-day × 100k run (tens of millions of rows) fits in memory.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from overdue.strategy.simulate import SimConfig, simulate

ACCOUNTS = 1000
DAYS = 20
RESULTS_ENV = "OVERDUE_SIM_RESULTS"
TIMED_CHANNELS = {"push", "sms", "email", "voice_robot", "voice_agent", "field_visit"}
CALLS = {"voice_robot", "voice_agent"}
STOP_EVERYTHING = {"do_not_contact", "dispute", "deceased", "bankruptcy", "cease_communication"}
QUIET = {"cn": (8, 22), "us": (8, 21)}  # allowed local hours [start, end)
# compliance.md: a vulnerable customer gets only friendly messages by push, SMS, e-mail, letter or
# a human agent, to the debtor; a customer in hardship only friendly contacts, no field visit,
# agency or legal step
VULNERABLE_CHANNELS = {"push", "sms", "email", "letter", "voice_agent"}
HARDSHIP_EXCLUDED = {"field_visit", "agency", "legal"}
NOTICE_TEMPLATE = "validation_notice"
NOTICE_DAYS = 5  # us: a validation notice within 5 days of the first collection contact
MAX_THIRD_PARTY_PER_DAY = 1


@pytest.fixture(scope="module", params=["cn", "us"])
def run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    given = os.environ.get(RESULTS_ENV)
    if given:
        out = Path(given)
        profile = json.loads((out / "summary.json").read_text())["config"]["profile"]
        if profile != request.param:
            pytest.skip(f"{RESULTS_ENV} holds a {profile} run")
        return profile, out
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


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """The rows of a CSV file one at a time (contacts.csv of a long run does not fit in memory)."""
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _sent_rows(path: Path) -> Iterator[dict[str, str]]:
    """Sent contacts, in time order per strategy (the file's order; checked, not assumed)."""
    last: dict[str, datetime] = {}
    for r in _rows(path):
        if r["blocked_rule"] != "":
            continue
        at = datetime.fromisoformat(r["attempted_at"])
        strategy = r["strategy"]
        assert strategy not in last or last[strategy] <= at, (
            f"{r['contact_id']}: contacts.csv is not in time order for {strategy}"
        )
        last[strategy] = at
        yield r


@dataclass
class Report:
    """What the checker found: the violations and what it counted."""

    problems: list[str] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    notices_due: int = 0  # debts whose validation-notice deadline fell inside the run
    notices_exempt: int = 0  # of those: the customer could not lawfully get one (flags)

    def add(self, text: str) -> None:
        self.problems.append(text)


class _DayCounts:
    """Counts by (key, local day), forgetting days long gone (rows come in time order)."""

    def __init__(self) -> None:
        self.by_day: dict[date, dict[tuple[str, ...], int]] = {}

    def add(self, key: tuple[str, ...], day: date) -> int:
        counts = self.by_day.setdefault(day, defaultdict(int))
        counts[key] += 1
        if len(self.by_day) > 4:
            for old in sorted(self.by_day)[:-4]:
                del self.by_day[old]
        return counts[key]


def _recent(days: list[date], day: date, within: int) -> list[date]:
    """Days of ``days`` less than ``within`` days before ``day`` (the list is pruned too)."""
    days[:] = [d for d in days if day - d < timedelta(days=within)]
    return days


def check_results(profile: str, out: Path) -> Report:
    """Every sent contact that breaks a rule of ``profile`` (plain loops, domain.md §4)."""
    zones = {r["customer_id"]: ZoneInfo(r["time_zone"]) for r in _rows(out / "customers.csv")}
    flags: dict[tuple[str, str], list[tuple[str, datetime]]] = defaultdict(list)
    for r in _rows(out / "flags.csv"):
        flags[(r["customer_id"], r["flag"])].append(
            (r["strategy"], datetime.fromisoformat(r["from_utc"]))
        )
    report = Report()
    connected_calls, unanswered, third_parties = _DayCounts(), _DayCounts(), _DayCounts()
    calls_by_debt: dict[tuple[str, str, str], list[date]] = defaultdict(list)
    conversations: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    right_party_days: dict[tuple[str, str], list[date]] = defaultdict(list)
    first_collection: dict[tuple[str, str], tuple[date, str]] = {}  # (strategy, account)
    notices: dict[tuple[str, str], date] = {}  # first notice per (strategy, account)

    def flagged(strategy: str, customer: str, flag: str, at: datetime) -> bool:
        return any(s in ("", strategy) and since < at for s, since in flags[(customer, flag)])

    for r in _sent_rows(out / "contacts.csv"):
        who, strategy, channel = r["customer_id"], r["strategy"], r["channel"]
        cid = r["contact_id"]
        report.sent[strategy] += 1
        at = datetime.fromisoformat(r["attempted_at"])
        zone = zones[who]
        local = at.astimezone(zone)
        if at.utcoffset() != local.utcoffset():
            report.add(f"{cid}: offset {at.utcoffset()} is not {zone}'s")
        start, end = QUIET[profile]
        if channel in TIMED_CHANNELS and not start <= local.hour < end:
            report.add(f"{cid}: {channel} at {local.time()} local ({profile})")
        for flag in STOP_EVERYTHING:
            if flagged(strategy, who, flag, at):
                report.add(f"{cid}: {channel} to a customer flagged {flag}")
        if flagged(strategy, who, f"opt_out_{channel}", at):
            report.add(f"{cid}: {channel} after an opt-out of it")
        third = r["recipient_kind"] == "third_party"
        friendly = r["tone"] == "friendly"
        if flagged(strategy, who, "vulnerable", at) and (
            not friendly or third or channel not in VULNERABLE_CHANNELS
        ):
            report.add(f"{cid}: {r['tone']} {channel} to {r['recipient_kind']} of a vulnerable")
        if flagged(strategy, who, "hardship", at) and (
            not friendly or channel in HARDSHIP_EXCLUDED
        ):
            report.add(f"{cid}: {r['tone']} {channel} to a customer in hardship")
        day = local.date()
        if third:
            if not r["template"].endswith("_locate"):
                report.add(f"{cid}: third party got {r['template']!r}, not a locate message")
            recent = _recent(right_party_days[(strategy, who)], day, 7)
            if recent:
                report.add(f"{cid}: third party called, debtor reached {recent[-1]}")
            if third_parties.add((strategy, who), day) > MAX_THIRD_PARTY_PER_DAY:
                report.add(f"{cid}: second third-party contact about {who} on {day}")
        if channel in CALLS:
            debt = (strategy, who, r["account_id"])
            if profile == "cn":
                connected = r["connected"] == "true"
                if connected and not third and connected_calls.add((strategy, who), day) > 3:
                    report.add(f"{cid}: 4th connected call on {day}")
                if not connected and unanswered.add((strategy, r["to_address"]), day) > 6:
                    report.add(f"{cid}: 7th unanswered call to a number")
            else:
                window = _recent(calls_by_debt[debt], day, 7)
                if len(window) >= 7:
                    report.add(f"{cid}: 8th call attempt in 7 days")
                talks = conversations[debt]
                talks[:] = [t for t in talks if day - t.astimezone(zone).date() < timedelta(7)]
                if any(t < at for t in talks):
                    report.add(f"{cid}: call within 7 days of a conversation")
                window.append(day)
                if r["right_party"] == "true" and r["connected"] == "true" and not third:
                    talks.append(at)
        if r["right_party"] == "true" and not third:
            reached = right_party_days[(strategy, who)]
            if not reached or reached[-1] != day:
                reached.append(day)
        debt_key = (strategy, r["account_id"])
        if r["template"] == NOTICE_TEMPLATE:
            notices.setdefault(debt_key, day)
        elif not third and r["dpd"] not in ("", "0") and int(r["dpd"]) > 0:
            first_collection.setdefault(debt_key, (day, who))
    if profile == "us":
        _check_notices(report, out, first_collection, notices, flagged)
    return report


def _check_notices(
    report: Report,
    out: Path,
    first_collection: dict[tuple[str, str], tuple[date, str]],
    notices: dict[tuple[str, str], date],
    flagged: Callable[[str, str, str, datetime], bool],
) -> None:
    """us: every debt with a collection contact (a sent contact to the debtor while the account
    is past due) has a validation notice no later than 5 days after the first one. A debt whose
    deadline lies after the run's last day is not due yet; a customer who may not get one (a
    stop-everything flag, or opted out of both e-mail and letter by the deadline) is exempt."""
    last_day = date.fromisoformat(
        json.loads((out / "summary.json").read_text())["config"]["last_day"]
    )
    for (strategy, account), (first, who) in sorted(first_collection.items()):
        deadline = first + timedelta(days=NOTICE_DAYS)
        if deadline > last_day:
            continue
        report.notices_due += 1
        sent = notices.get((strategy, account))
        if sent is not None and sent <= deadline:
            continue
        cutoff = datetime.combine(deadline + timedelta(days=1), datetime.min.time(), UTC)
        blocked = [f for f in STOP_EVERYTHING if flagged(strategy, who, f, cutoff)]
        if blocked or all(
            flagged(strategy, who, f"opt_out_{c}", cutoff) for c in ("email", "letter")
        ):
            report.notices_exempt += 1
            continue
        report.add(
            f"{strategy} {account}: first collection contact {first}, validation notice "
            f"{sent or 'never'} (due by {deadline})"
        )


def _violations(profile: str, out: Path) -> list[str]:
    return check_results(profile, out).problems


def _strategy_labels(out: Path) -> dict[str, str]:
    """Shipped strategy name → its label in the outputs (``strategy`` or ``vs``)."""
    summary = json.loads((out / "summary.json").read_text())
    return {data["name"]: label for label, data in summary["strategies"].items()}


def test_no_sent_contact_breaks_the_profile(run: tuple[str, Path]) -> None:
    profile, out = run
    report = check_results(profile, out)
    assert sum(report.sent.values()) > 0, "the strategies made contacts"
    problems = report.problems
    if os.environ.get(RESULTS_ENV):
        print(  # the figures of a checked run (run pytest with -s)
            json.dumps(
                {
                    "profile": profile,
                    "sent": dict(report.sent),
                    "violations": len(problems),
                    "notices_due": report.notices_due,
                    "notices_exempt": report.notices_exempt,
                }
            )
        )
    assert problems == [], f"{len(problems)} violations, first: {problems[:5]}"
    if profile == "us":
        assert report.notices_due > 0, "some debts reached their validation-notice deadline"


def test_aggressive_strategy_is_held_back_by_rule(run: tuple[str, Path]) -> None:
    profile, out = run
    summary = json.loads((out / "summary.json").read_text())
    labels = _strategy_labels(out)
    aggressive = summary["strategies"][labels["aggressive"]]["all"]["blocked_by_rule"]
    assert aggressive.get("quiet_hours", 0) > 0
    cap_rule = "daily_connected_cap" if profile == "cn" else "post_conversation"
    assert sum(aggressive.values()) > 1000
    assert (
        cap_rule in aggressive or "unanswered_cap" in aggressive or "seven_in_seven" in aggressive
    )
    default = summary["strategies"][labels["default"]]["all"]["blocked_by_rule"]
    assert sum(default.values()) < sum(aggressive.values()) / 10
    by_rule: dict[str, int] = defaultdict(int)
    for r in _rows(out / "contacts.csv"):
        if r["blocked_rule"] and r["strategy"] == labels["aggressive"]:
            by_rule[r["blocked_rule"]] += 1
    assert dict(by_rule) == aggressive, "contacts.csv and summary.json count the same blocks"


def _planted(
    out: Path, tmp_path: Path, change: dict[str, str], pick: Callable[[dict[str, str]], bool]
) -> Path:
    """A copy of the first contacts of ``out`` up to the first sent row ``pick`` accepts, that
    row changed by ``change``."""
    rows: list[dict[str, str]] = []
    for r in _rows(out / "contacts.csv"):
        rows.append(r)
        if r["blocked_rule"] == "" and pick(r):
            r.update(change)
            break
    else:
        pytest.skip("no row to plant the violation in")
    for name in ("customers.csv", "flags.csv", "summary.json"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    with (tmp_path / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_checker_catches_a_night_call(run: tuple[str, Path], tmp_path: Path) -> None:
    """The checker is not vacuous: one sent call moved to 23:30 local is reported."""
    profile, out = run
    call = next(r for r in _sent_rows(out / "contacts.csv") if r["channel"] in CALLS)
    at = datetime.fromisoformat(call["attempted_at"]).replace(hour=23, minute=30)
    planted = _planted(
        out,
        tmp_path,
        {"attempted_at": at.isoformat()},
        lambda r: r["contact_id"] == call["contact_id"],
    )
    assert any("local" in p for p in _violations(profile, planted))


def test_checker_catches_a_firm_tone_in_hardship(run: tuple[str, Path], tmp_path: Path) -> None:
    """A sent contact to a customer flagged hardship (or vulnerable) made firm is reported."""
    profile, out = run
    fragile = {
        r["customer_id"]
        for r in _rows(out / "flags.csv")
        if r["flag"] in ("hardship", "vulnerable") and r["strategy"] == ""
    }
    planted = _planted(out, tmp_path, {"tone": "firm"}, lambda r: r["customer_id"] in fragile)
    problems = _violations(profile, planted)
    assert any("hardship" in p or "vulnerable" in p for p in problems), problems[:3]


def test_checker_catches_a_missing_validation_notice(run: tuple[str, Path], tmp_path: Path) -> None:
    """us: with the notices of the run removed, debts past their deadline are reported."""
    profile, out = run
    if profile != "us":  # a us rule: under cn no notice is ever due
        assert check_results(profile, out).notices_due == 0
        return
    if os.environ.get(RESULTS_ENV):
        pytest.skip("the small run shows the check is not vacuous (a copy of a long run is huge)")
    report = check_results(profile, out)
    if report.notices_due == 0:
        pytest.skip("no debt reached its deadline in this run")
    with (tmp_path / "contacts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer: csv.DictWriter[str] | None = None
        for r in _rows(out / "contacts.csv"):
            if r["template"] == NOTICE_TEMPLATE:
                continue
            if writer is None:
                writer = csv.DictWriter(handle, fieldnames=list(r))
                writer.writeheader()
            writer.writerow(r)
    for name in ("customers.csv", "flags.csv", "summary.json"):
        (tmp_path / name).write_bytes((out / name).read_bytes())
    assert any("validation notice" in p for p in _violations(profile, tmp_path))


def test_contacts_csv_columns_and_times(run: tuple[str, Path]) -> None:
    _, out = run
    with (out / "contacts.csv").open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:10] == [
        "contact_id", "customer_id", "account_id", "channel", "to_address", "attempted_at",
        "connected", "right_party", "outcome", "blocked_rule",
    ]  # fmt: skip
    assert {"tone", "template", "dpd", "recipient_kind"} <= set(header)
    for n, r in enumerate(_rows(out / "contacts.csv")):
        if n >= 500:
            break
        assert r["connected"] in ("true", "false") and r["right_party"] in ("true", "false")
        at = datetime.fromisoformat(r["attempted_at"])
        assert at.tzinfo is not None and at.astimezone(UTC)
        assert (r["blocked_rule"] == "") == (r["outcome"] != "blocked")
        assert r["tone"] in ("friendly", "firm", "formal")

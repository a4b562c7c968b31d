"""The us validation notice: within 5 days of a debt's first collection contact (Reg F §1006.34)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.compliance.gate import ContactHistory, check
from overdue.compliance.profile import load_profile
from overdue.compliance.wording import check_notice_template, check_profile_opt_out
from overdue.contact.render import render, sample_contexts
from overdue.strategy import notices
from overdue.strategy.sim_book import FLAG_COLUMNS

US = load_profile("us")
START = date(2024, 7, 1)
FLAG_RULES = ("deceased", "bankruptcy", "do_not_contact", "cease_communication", "dispute")


def _gated(rows: list[dict[str, Any]]) -> pa.Table:
    """Gate output rows (only the columns the notices read)."""
    base = {
        "allowed": True,
        "recipient_kind": "debtor",
        "template": "sms_friendly",
        "time_zone": "America/New_York",
        "language": "en",
        "strategy": "default",
        "strategy_version": "1",
        "arm": "champion",
        "blocked_rule": "",
    }
    full = [{**base, **r} for r in rows]
    names = ["account_id", "customer_id", *base]
    return pa.table({n: [r[n] for r in full] for n in names}) if full else _empty_gated()


def _empty_gated() -> pa.Table:
    names = ["account_id", "customer_id", "recipient_kind", "template", "time_zone", "language",
             "strategy", "strategy_version", "arm", "blocked_rule"]  # fmt: skip
    columns = {n: pa.array([], pa.string()) for n in names}
    return pa.table({"allowed": pa.array([], pa.bool_()), **columns})


def _snapshot(dpd: dict[str, int]) -> pa.Table:
    return pa.table({"account_id": list(dpd), "dpd": pa.array(list(dpd.values()), pa.int32())})


def _flags(customers: list[str], set_flags: dict[str, set[str]]) -> pa.Table:
    columns: dict[str, Any] = {"customer_id": customers}
    for name in FLAG_COLUMNS:
        columns[name] = [name in set_flags.get(c, set()) for c in customers]
    return pa.table(columns)


def _gate(flags: pa.Table) -> Any:
    history = ContactHistory()
    return lambda planned: check(planned, history, flags, US)


CUSTOMERS = pa.table({"customer_id": ["C1", "C2", "C3"], "email": ["a@x.com", "", "c@x.com"]})


def test_profiles_carry_the_notice_rule_in_us_only() -> None:
    assert US.validation_notice_days == 5
    assert load_profile("cn").validation_notice_days is None


def test_notice_template_is_clean_and_email_carries_an_opt_out() -> None:
    assert check_notice_template(notices.NOTICE_TEMPLATE, notices.NOTICE_CHANNELS) == []
    assert check_profile_opt_out(US.opt_out_channels) == []
    for language, stop in (("en", "STOP"), ("zh-CN", "退订")):
        context = {**sample_contexts()[0], "market": "us"}
        email = render(notices.NOTICE_TEMPLATE, language, {**context, "channel": "email"})
        letter = render(notices.NOTICE_TEMPLATE, language, {**context, "channel": "letter"})
        assert email.subject and stop in email.body
        assert letter.subject is None and stop not in letter.body


def test_a_missing_opt_out_is_found(tmp_path: Path) -> None:
    # the check reads rendered bodies: a template set without the line would be reported
    assert check_profile_opt_out(["sms", "email"]) == []
    problems = notices.notice_template_problems()
    assert problems == ()


def test_first_collection_contact_opens_a_clock_and_the_notice_goes_the_same_day() -> None:
    gated = _gated(
        [
            {"account_id": "A1", "customer_id": "C1"},  # past due: opens
            {"account_id": "A1", "customer_id": "C1", "template": "voice_agent_friendly"},
            {"account_id": "A2", "customer_id": "C2", "recipient_kind": "third_party"},
            {"account_id": "A3", "customer_id": "C3"},  # DPD 0: a reminder, not collection
            {"account_id": "A4", "customer_id": "C3", "allowed": False},
        ]
    )
    snapshot = _snapshot({"A1": 3, "A2": 9, "A3": 0, "A4": 12})
    flags = _flags(["C1", "C2", "C3"], {})
    ledger, sent = notices.notice_day(
        notices.LEDGER_SCHEMA.empty_table(), gated, snapshot, CUSTOMERS, flags, START, _gate(flags)
    )
    assert ledger["account_id"].to_pylist() == ["A1"]
    assert sent is not None and sent["allowed"].to_pylist() == [True]
    row = sent.to_pylist()[0]
    assert row["template"] == notices.NOTICE_TEMPLATE and row["channel"] == "email"
    assert row["to_address"] == "a@x.com" and row["tone"] == "friendly"
    assert row["contact_id"] == notices.notice_id(START, "A1", "email")
    assert ledger["notice_on"].to_pylist() == [START]
    # the next day: nothing new, nothing pending
    again, none = notices.notice_day(ledger, gated, snapshot, CUSTOMERS, flags, START, _gate(flags))
    assert none is None and again.num_rows == 1


def test_email_opt_out_sends_a_letter_and_a_block_is_recorded_then_retried() -> None:
    gated = _gated(
        [{"account_id": "A2", "customer_id": "C2"}, {"account_id": "A3", "customer_id": "C3"}]
    )
    snapshot = _snapshot({"A2": 5, "A3": 5})
    flags = _flags(["C2", "C3"], {"C2": {"opt_out_email"}, "C3": {"cease_communication"}})
    ledger, sent = notices.notice_day(
        notices.LEDGER_SCHEMA.empty_table(), gated, snapshot, CUSTOMERS, flags, START, _gate(flags)
    )
    assert sent is not None
    by_account = {r["account_id"]: r for r in sent.to_pylist()}
    assert by_account["A2"]["channel"] == "letter" and by_account["A2"]["allowed"]
    assert by_account["A2"]["to_address"] == "post:C2"
    assert by_account["A3"]["blocked_rule"] == "cease_communication"
    rows = {r["account_id"]: r for r in ledger.to_pylist()}
    assert rows["A3"]["notice_on"] is None and rows["A3"]["blocked_rule"] == "cease_communication"
    # the flag is lifted the next day: the notice goes then
    later = START + timedelta(days=1)
    clear = _flags(["C2", "C3"], {})
    ledger, sent = notices.notice_day(
        ledger, _empty_gated(), snapshot, CUSTOMERS, clear, later, _gate(clear)
    )
    assert sent is not None and sent["account_id"].to_pylist() == ["A3"]
    assert {r["account_id"]: r["notice_on"] for r in ledger.to_pylist()} == {
        "A2": START,
        "A3": later,
    }
    assert notices.late_notices(ledger, later + timedelta(days=9), 5).num_rows == 0


def test_the_ledger_is_read_back_and_a_notice_stopped_at_send_time_is_unsent(
    tmp_path: Path,
) -> None:
    import pyarrow.parquet as pq

    gated = _gated([{"account_id": "A1", "customer_id": "C1"}])
    flags = _flags(["C1"], {})
    ledger, _ = notices.notice_day(
        notices.LEDGER_SCHEMA.empty_table(), gated, _snapshot({"A1": 2}), CUSTOMERS, flags, START,
        _gate(flags),
    )  # fmt: skip
    path = notices.ledger_file(tmp_path, START)
    path.parent.mkdir(parents=True)
    pq.write_table(ledger, path)
    assert notices.read_ledger(tmp_path, START + timedelta(days=3)).equals(ledger)
    outcomes = path.parent.parent / "outcomes"
    outcomes.mkdir()
    pq.write_table(
        pa.table({"contact_id": pa.array(["other"], pa.string())}), outcomes / "part-0.parquet"
    )
    back = notices.read_ledger(tmp_path, START + timedelta(days=1)).to_pylist()[0]
    assert back["notice_on"] is None and back["blocked_rule"] == "stopped at send time"


@st.composite
def _days(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Per day: contacts (account, recipient, allowed, dpd) and customer flags."""
    n_days = draw(st.integers(1, 12))
    days = []
    for _ in range(n_days):
        contacts = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["A1", "A2", "A3", "A4", "A5"]),
                    st.sampled_from(["debtor", "debtor", "third_party"]),
                    st.booleans(),
                    st.sampled_from([0, 1, 15, 40]),
                ),
                max_size=6,
            )
        )
        flag_names = ["opt_out_email", "opt_out_letter", *FLAG_RULES]
        flags = draw(
            st.dictionaries(
                st.sampled_from(["C1", "C2", "C3"]),
                st.sets(st.sampled_from(flag_names), max_size=2),
                max_size=3,
            )
        )
        days.append({"contacts": contacts, "flags": flags})
    return days


OWNER = {"A1": "C1", "A2": "C1", "A3": "C2", "A4": "C3", "A5": "C3"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_days())
def test_every_first_contact_gets_a_notice_within_5_days_unless_a_rule_blocks_it(
    days: list[dict[str, Any]],
) -> None:
    """An independent check over any sequence of days, contacts and flags."""
    ledger = notices.LEDGER_SCHEMA.empty_table()
    first: dict[str, date] = {}
    sent: dict[str, list[date]] = {}
    blocked: dict[tuple[str, date], str] = {}
    flags_of: dict[date, dict[str, set[str]]] = {}
    for offset, today in enumerate(days):
        as_of = START + timedelta(days=offset)
        rows, dpd = [], {a: 0 for a in OWNER}
        for account, recipient, allowed, days_past_due in today["contacts"]:
            rows.append({"account_id": account, "customer_id": OWNER[account],
                         "recipient_kind": recipient, "allowed": allowed})  # fmt: skip
            dpd[account] = max(dpd[account], days_past_due)  # one snapshot a day
        for account, recipient, allowed, _ in today["contacts"]:
            if allowed and recipient == "debtor" and dpd[account] > 0:
                first.setdefault(account, as_of)
        flags = _flags(["C1", "C2", "C3"], today["flags"])
        flags_of[as_of] = today["flags"]
        snapshot = _snapshot(dpd)
        ledger, gated = notices.notice_day(
            ledger, _gated(rows), snapshot, CUSTOMERS, flags, as_of, _gate(flags)
        )
        for row in gated.to_pylist() if gated is not None else []:
            assert row["template"] == notices.NOTICE_TEMPLATE and row["account_id"] in first
            if row["allowed"]:
                sent.setdefault(row["account_id"], []).append(as_of)
            else:
                blocked[(row["account_id"], as_of)] = row["blocked_rule"]
    last = START + timedelta(days=len(days) - 1)
    for account, day in first.items():
        assert len(sent.get(account, [])) <= 1, "one notice per debt"
        window = [day + timedelta(days=k) for k in range(US.validation_notice_days + 1)]
        window = [d for d in window if d <= last]
        on_time = [d for d in sent.get(account, []) if d in window]
        before = [d for d in window if d < on_time[0]] if on_time else window
        for d in before:  # every day without a notice: a notice was tried and blocked by a rule
            rule = blocked.get((account, d))
            assert rule, f"{account}: no notice and no recorded block on {d}"
            customer_flags = flags_of[d].get(OWNER[account], set())
            assert rule in customer_flags or rule == "opt_out", (rule, customer_flags)
            if rule == "opt_out":
                assert {"opt_out_email", "opt_out_letter"} <= customer_flags
    recorded = {r["account_id"]: r for r in ledger.to_pylist()}
    assert set(recorded) == set(first)
    for account, row in recorded.items():
        assert row["first_contact_on"] == first[account]
        assert (row["notice_on"] is not None) == bool(sent.get(account))

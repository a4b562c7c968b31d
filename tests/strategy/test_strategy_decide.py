"""Decisions: segments, pre-due tiers, arms and hold-out, stop rules, triggers, capacity."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.portfolio.kernel import SNAPSHOT_SCHEMA
from overdue.strategy.arms import assign_arms
from overdue.strategy.decide import PLANNED_SCHEMA, contact_id, decide_all
from overdue.strategy.spec import load_spec, parse_spec

AS_OF = date(2024, 7, 7)

SPEC = """\
name: t
version: "1"
experiment: {salt: s, holdout_share: 0.0}
capacities:
  sms: {per_day: 2}
segments:
  - {name: big, priority: 1, when: {dpd: {min: 1}, balance_fen: {min: 100000}}, path: p}
  - {name: small, priority: 2, when: {dpd: {min: 1}}, path: p}
triggers:
  - {name: debit, event: autodebit_failed, priority: 3, path: debit}
paths:
  p:
    steps:
      - {id: sms, day: 1, repeat_every_days: 1, until_day: 30, channel: sms, at: ["10:00"],
         stop: [paid, dispute, promise_pending]}
  debit:
    steps:
      - {id: debit_push, day: 0, channel: push, at: ["09:00"], stop: [paid]}
"""


def item(due: date, principal_fen: int, penalty_fen: int = 0) -> dict[str, Any]:
    return {
        "item_id": f"i{due}",
        "due_date": due,
        "seq": 1,
        "principal_fen": principal_fen,
        "interest_fen": 0,
        "fee_fen": 0,
        "minimum_fen": 0,
        "unpaid_principal_fen": principal_fen,
        "unpaid_interest_fen": 0,
        "unpaid_fee_fen": 0,
        "unpaid_penalty_fen": penalty_fen,
        "provisional_penalty_fen": 0,
        "penalty_accrued_fen": penalty_fen,
        "penalty_days": 0,
        "paid_fen": 0,
        "waived_fen": 0,
        "late_fee_charged_fen": 0,
        "closed_by_minimum": False,
        "revolved_fen": 0,
    }


def account(
    aid: str,
    cid: str,
    *,
    dpd: int = 0,
    due_in: int | None = None,
    principal_fen: int = 50_000,
    penalty_fen: int = 0,
) -> dict[str, Any]:
    if dpd > 0:
        due = AS_OF - timedelta(days=dpd)
    else:
        due = AS_OF + timedelta(days=due_in if due_in is not None else 40)
    return {
        "account_id": aid,
        "customer_id": cid,
        "product": "revolving",
        "policy": "huabei-like",
        "as_of": AS_OF,
        "status": "overdue" if dpd > 0 else "current",
        "dpd": dpd,
        "bucket_cn": "M1" if dpd else "M0",
        "bucket_us": "current",
        "oldest_past_due_date": due if dpd else None,
        "total_overdue_fen": principal_fen + penalty_fen if dpd else 0,
        "penalty_outstanding_fen": penalty_fen,
        "penalty_accrued_fen": penalty_fen,
        "items": [item(due, principal_fen, penalty_fen)],
    }


def snapshot(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SNAPSHOT_SCHEMA)


def customers(ids: list[str], zone: str = "Asia/Shanghai") -> pa.Table:
    ids = sorted(set(ids))
    return pa.table(
        {"customer_id": ids, "language": ["zh-CN"] * len(ids), "time_zone": [zone] * len(ids)}
    )


def champions(n: int, salt: str, share: float) -> list[str]:
    """Customer ids that the spec's hashing puts outside the hold-out."""
    ids = [f"C{i}" for i in range(n * 4)]
    arms = assign_arms(pa.array(ids), salt, share, [("champion", 1.0)]).to_pylist()
    return [c for c, a in zip(ids, arms, strict=True) if a == "champion"][:n]


def test_pre_due_reminders_follow_the_early_warning_tier() -> None:
    spec = load_spec("default")
    high, low = champions(2, spec.experiment.salt, spec.experiment.holdout_share)
    snap = snapshot([account("A1", high, due_in=3), account("A2", low, due_in=3)])
    scores = pa.table(
        {"account_id": ["A1", "A2"], "model": ["early_warning"] * 2, "score": [0.6, 0.02]}
    )
    planned = decide_all(snap, scores, customers([high, low]), None, spec, AS_OF).planned
    assert planned.column("account_id").to_pylist() == ["A1"]
    row = planned.to_pylist()[0]
    assert (row["channel"], row["step_id"], row["segment"]) == ("sms", "sms_d-3", "pre_due_high")
    assert row["planned_at_utc"] == datetime(2024, 7, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    # one day before the due date, the low-risk account gets its single push
    snap = snapshot([account("A1", high, due_in=1), account("A2", low, due_in=1)])
    planned = decide_all(snap, scores, customers([high, low]), None, spec, AS_OF).planned
    got = dict(
        zip(
            planned.column("account_id").to_pylist(),
            planned.column("channel").to_pylist(),
            strict=True,
        )
    )
    assert got == {"A1": "push", "A2": "push"}
    assert set(planned.column("segment").to_pylist()) == {"pre_due_high", "pre_due_low"}


def test_planned_rows_have_the_contract_columns_and_ids() -> None:
    spec = parse_spec(SPEC, "t.yaml")
    snap = snapshot([account("A1", "C1", dpd=3)])
    result = decide_all(snap, None, customers(["C1"]), None, spec, AS_OF)
    planned = result.planned
    assert planned.schema.names[: len(PLANNED_SCHEMA)] == PLANNED_SCHEMA.names
    row = planned.to_pylist()[0]
    expected = hashlib.sha256(b"2024-07-07|A1|sms|sms").hexdigest()[:32]
    assert row["contact_id"] == expected == contact_id(AS_OF, "A1", "sms", "sms")
    assert row["strategy_version"] == spec.strategy_version
    assert row["reason"] == "segment small, path p, step sms on day +3"
    decisions = result.decisions.to_pylist()
    assert [(d["account_id"], d["action"], d["contact_id"]) for d in decisions] == [
        ("A1", "sms:sms", expected)
    ]


def test_capacity_goes_to_the_higher_priority_and_drops_are_recorded() -> None:
    spec = parse_spec(SPEC, "t.yaml")
    rows = [
        account("A1", "C1", dpd=2),
        account("A2", "C2", dpd=2),
        account("A3", "C3", dpd=2, principal_fen=200_000),
        account("A4", "C4", dpd=2, principal_fen=300_000),
    ]
    result = decide_all(
        snapshot(rows), None, customers(["C1", "C2", "C3", "C4"]), None, spec, AS_OF
    )
    assert sorted(result.planned.column("account_id").to_pylist()) == ["A3", "A4"]
    dropped = [d for d in result.decisions.to_pylist() if d["reason"].startswith("capacity")]
    assert sorted(d["account_id"] for d in dropped) == ["A1", "A2"]
    assert all(d["action"] == "none" for d in dropped)


def test_stop_rules_and_flags() -> None:
    spec = parse_spec(SPEC, "t.yaml")
    rows = [account("A1", "C1", dpd=2), account("A2", "C2", dpd=2), account("A3", "C3", dpd=2)]
    flags = pa.table({"customer_id": ["C1"], "dispute": [True]})
    state = pa.table({"account_id": ["A2"], "promise_pending": [True]})
    result = decide_all(
        snapshot(rows), None, customers(["C1", "C2", "C3"]), None, spec, AS_OF, state, flags=flags
    )
    assert result.planned.column("account_id").to_pylist() == ["A3"]
    reasons = {d["account_id"]: d["reason"] for d in result.decisions.to_pylist()}
    assert reasons["A1"] == "step sms stopped: dispute"
    assert reasons["A2"] == "step sms stopped: promise_pending"


def test_a_failed_auto_debit_triggers_a_push() -> None:
    spec = parse_spec(SPEC, "t.yaml")
    rows = [account("A1", "C1", due_in=0), account("A2", "C2", due_in=0)]
    events = pa.table(
        {
            "account_id": ["A1", "A2"],
            "kind": ["autodebit_failed", "promise_broken"],
            "on_date": pa.array([AS_OF, AS_OF], pa.date32()),
        }
    )
    planned = decide_all(snapshot(rows), None, customers(["C1", "C2"]), events, spec, AS_OF).planned
    assert planned.column("account_id").to_pylist() == ["A1"]
    assert planned.column("segment").to_pylist() == ["trigger:debit"]


def test_hold_out_gets_no_contact_but_is_recorded() -> None:
    spec = parse_spec(
        SPEC.replace("holdout_share: 0.0", "holdout_share: 0.4").replace(
            "per_day: 2", "per_day: 1000"
        ),
        "t.yaml",
    )
    rows = [account(f"A{i}", f"C{i}", dpd=2) for i in range(200)]
    result = decide_all(
        snapshot(rows), None, customers([f"C{i}" for i in range(200)]), None, spec, AS_OF
    )
    held = [d for d in result.decisions.to_pylist() if d["arm"] == "holdout"]
    assert 50 < len(held) < 110
    assert all(d["action"] == "none" and d["reason"] == "hold-out: no contact" for d in held)
    assert "holdout" not in set(result.planned.column("arm").to_pylist())
    assert result.planned.num_rows + len(held) == 200


def test_education_amounts_are_exact() -> None:
    spec = parse_spec(SPEC, "t.yaml")
    snap = snapshot([account("A1", "C1", dpd=3, principal_fen=123_457, penalty_fen=186)])
    row = decide_all(snap, None, customers(["C1"]), None, spec, AS_OF).planned.to_pylist()[0]
    # 0.05 % a day of 1234.57 = 0.617285 -> 0.62 a day, 7 more days
    assert row["penalty_fen"] == 186
    assert row["penalty_in_7_days_fen"] == 186 + 7 * 62
    assert row["amount_due_fen"] == 123_457 + 186


@settings(max_examples=50, deadline=None)
@given(
    ids=st.lists(st.text("abcdefC0123456789", min_size=1, max_size=6), min_size=1, max_size=60),
    holdout=st.sampled_from([0.0, 0.05, 0.3]),
    salt=st.text(min_size=1, max_size=8),
)
def test_every_account_of_a_customer_shares_one_arm(
    ids: list[str], holdout: float, salt: str
) -> None:
    rows = ids + ids[::-1]  # each customer appears at least twice, in different positions
    arms = assign_arms(pa.array(rows), salt, holdout, [("champion", 0.7), ("b", 0.3)]).to_pylist()
    seen: dict[str, str] = {}
    for cid, arm in zip(rows, arms, strict=True):
        assert seen.setdefault(cid, arm) == arm
    again = assign_arms(
        pa.array(list(reversed(rows))), salt, holdout, [("champion", 0.7), ("b", 0.3)]
    )
    assert again.to_pylist() == arms[::-1]


def test_arm_shares_are_close_to_the_spec() -> None:
    ids = pa.array([f"C{i}" for i in range(20_000)])
    arms = assign_arms(ids, "salt", 0.05, [("champion", 0.8), ("b", 0.2)]).to_pylist()
    assert abs(arms.count("holdout") / 20_000 - 0.05) < 0.01
    assert abs(arms.count("b") / 20_000 - 0.95 * 0.2) < 0.015


def test_contact_ids_are_unique_even_when_a_trigger_reuses_a_path() -> None:
    spec = load_spec("aggressive")
    ids = champions(3, spec.experiment.salt, spec.experiment.holdout_share)
    rows = [account(f"A{i}", c, dpd=5) for i, c in enumerate(ids)]
    events = pa.table(
        {
            "account_id": ["A0"],
            "kind": ["promise_broken"],
            "on_date": pa.array([AS_OF - timedelta(days=4)], pa.date32()),
        }
    )
    planned = decide_all(snapshot(rows), None, customers(ids), events, spec, AS_OF).planned
    contact_ids = planned.column("contact_id").to_pylist()
    assert len(contact_ids) == len(set(contact_ids))
    assert "trigger:promise_broken" in set(planned.column("segment").to_pylist())


@settings(max_examples=25, deadline=None)
@given(
    accounts=st.lists(
        st.tuples(st.integers(0, 120), st.integers(0, 12), st.integers(1, 900_000), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    sms_per_day=st.integers(0, 5),
    zone=st.sampled_from(["Asia/Shanghai", "America/New_York", "Asia/Kolkata"]),
)
def test_decision_invariants(
    accounts: list[tuple[int, int, int, bool]], sms_per_day: int, zone: str
) -> None:
    spec = parse_spec(
        SPEC.replace("holdout_share: 0.0", "holdout_share: 0.2").replace(
            "per_day: 2", f"per_day: {sms_per_day}"
        ),
        "t.yaml",
    )
    rows = [
        account(f"A{i}", f"C{i // 2}", dpd=dpd, due_in=due_in, principal_fen=p)
        for i, (dpd, due_in, p, _) in enumerate(accounts)
    ]
    ids = sorted({r["customer_id"] for r in rows})
    flags = pa.table(
        {
            "customer_id": [f"C{i // 2}" for i, a in enumerate(accounts) if a[3]],
            "dispute": [True] * sum(a[3] for a in accounts),
        }
    )
    result = decide_all(snapshot(rows), None, customers(ids, zone), None, spec, AS_OF, flags=flags)
    planned, decisions = result.planned.to_pylist(), result.decisions.to_pylist()
    assert {d["account_id"] for d in decisions} == {r["account_id"] for r in rows}
    assert sum(p["channel"] == "sms" for p in planned) <= sms_per_day
    assert len({p["contact_id"] for p in planned}) == len(planned)
    disputed = set(flags.column("customer_id").to_pylist())
    arm_of: dict[str, str] = {}
    for d in decisions:
        assert arm_of.setdefault(d["customer_id"], d["arm"]) == d["arm"]
        assert d["strategy_version"] == spec.strategy_version
    for p in planned:
        assert p["arm"] != "holdout" and p["customer_id"] not in disputed
        local = p["planned_at_utc"].astimezone(ZoneInfo(zone))
        assert (local.date(), local.hour, local.minute) == (AS_OF, 10, 0)


def test_events_today_takes_the_most_recent_matching_event() -> None:
    from overdue.strategy.early_warning import events_today

    events = pa.table(
        {
            "account_id": ["A1", "A1", "A2", "A3", "A3"],
            "kind": [
                "promise_broken",
                "promise_broken",
                "promise_broken",
                "autodebit_failed",
                "promise_broken",
            ],
            "on_date": pa.array([AS_OF - timedelta(days=d) for d in (5, 2, 9, 0, 1)], pa.date32()),
        }
    )
    got = events_today(
        events, pa.array(["A1", "A2", "A3", "A4"]), "promise_broken", AS_OF, [1, 2, 5]
    )
    assert got.tolist() == [2, -1, 1, -1]

"""Vintage (ever-X+ / current-X+ by month on book): a hand-computed panel and a differential test."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.portfolio.panel import Panel, PanelError, PanelSpec
from overdue.portfolio.vintage import (
    CREDIT_RECORD_DPD_MAP,
    VintageRow,
    parse_dpd_map,
    parse_thresholds,
    vintage,
)

Row = tuple[str, int, str, int]  # account, period, state, weight
SPEC = PanelSpec("acct", "period", "status")
WEIGHTED = PanelSpec("acct", "period", "status", "amount_fen")


def make_panel(rows: Sequence[Row], spec: PanelSpec = SPEC) -> Panel:
    table = pa.table(
        {
            "acct": [r[0] for r in rows],
            "period": pa.array([r[1] for r in rows], pa.int64()),
            "status": [r[2] for r in rows],
            "amount_fen": pa.array([r[3] for r in rows], pa.int64()),
        }
    )
    return Panel.from_table(ibis.memtable(table), spec)


# Periods 0..3. A: cohort 0, 30 dpd at MOB 1, 60 at MOB 2, back to 1 at MOB 3.
# C: cohort 0, closes after MOB 1. B: cohort 1, 90 dpd at MOB 2. D: cohort 2, 30 at MOB 0, then gone.
HAND: list[Row] = [
    ("A", 0, "C", 100), ("A", 1, "1", 90), ("A", 2, "2", 80), ("A", 3, "0", 70),
    ("B", 1, "0", 30), ("B", 2, "0", 30), ("B", 3, "3", 30),
    ("C", 0, "X", 50), ("C", 1, "C", 50),
    ("D", 2, "1", 20),
]  # fmt: skip


def summary(rows: Sequence[VintageRow], keys: Sequence[str]) -> list[tuple[object, ...]]:
    return [tuple(row.to_json_dict(True)[k] for k in keys) for row in rows]


def test_hand_made_vintage_by_mob() -> None:
    result = vintage(make_panel(HAND), dpd_map=CREDIT_RECORD_DPD_MAP)
    keys = ["mob", "accounts", "observed", "ever_30_count", "current_30_count"]
    keys += ["ever_60_count", "current_60_count", "ever_90_count", "current_90_count"]
    assert summary(result.by_mob, keys) == [
        (0, 4, 4, 1, 1, 0, 0, 0, 0),  # D is 30+ at its MOB 0
        (1, 4, 3, 2, 1, 0, 0, 0, 0),  # A 30+ now; D ever (gone at MOB 1 but still eligible)
        (2, 3, 2, 2, 2, 2, 2, 1, 1),  # D not eligible (2 + 2 > 3); A 60, B 90
        (3, 2, 1, 1, 0, 1, 0, 0, 0),  # cohort 0 only: A back to 1 dpd
    ]
    assert result.by_mob[1].to_json_dict(False)["ever_30"] == 2 / 4


def test_hand_made_vintage_by_cohort() -> None:
    result = vintage(make_panel(HAND), dpd_map=CREDIT_RECORD_DPD_MAP, thresholds=(30,))
    keys = ["cohort", "mob", "accounts", "observed", "ever_30_count", "current_30_count"]
    assert summary(result.by_cohort, keys) == [
        ("0", 0, 2, 2, 0, 0), ("0", 1, 2, 2, 1, 1), ("0", 2, 2, 1, 1, 1), ("0", 3, 2, 1, 1, 0),
        ("1", 0, 1, 1, 0, 0), ("1", 1, 1, 1, 0, 0), ("1", 2, 1, 1, 1, 1),
        ("2", 0, 1, 1, 1, 1), ("2", 1, 1, 0, 1, 0),
    ]  # fmt: skip


def test_by_amount_uses_the_first_row_weight() -> None:
    result = vintage(make_panel(HAND, WEIGHTED), dpd_map=CREDIT_RECORD_DPD_MAP)
    mob1 = result.by_mob[1].to_json_dict(True)
    # eligible at MOB 1: A 100, C 50, B 30, D 20; ever 30+: A and D; current 30+: A.
    assert mob1["ever_30_amount"] == 120 / 200
    assert mob1["current_30_amount"] == 100 / 200


def test_numeric_states_need_no_map() -> None:
    rows: list[Row] = [("a", 5, "0", 1), ("a", 6, "45", 1), ("b", 6, "12", 1)]
    result = vintage(make_panel(rows), thresholds=(30,))
    assert [(r.mob, r.accounts, r.ever[30]) for r in result.by_mob] == [(0, 2, 0), (1, 1, 1)]


def test_unknown_state_is_reported_with_its_row() -> None:
    rows: list[Row] = [("a", 1, "C", 1), ("a", 2, "Q", 1)]
    with pytest.raises(PanelError, match="state 'Q' in column 'status' is not in --dpd-map"):
        vintage(make_panel(rows), dpd_map=CREDIT_RECORD_DPD_MAP)
    with pytest.raises(PanelError, match=r"state 'C' .* is not a DPD number"):
        vintage(make_panel(rows))


def test_parsers() -> None:
    assert parse_dpd_map("0=1,1=30,2=60,3=90,4=120,5=150,C=0,X=0") == CREDIT_RECORD_DPD_MAP
    assert parse_thresholds("30, 60,90") == (30, 60, 90)
    for bad in ("0=1,1", "0=-1", "A=1,A=2"):
        with pytest.raises(PanelError, match="--dpd-map"):
            parse_dpd_map(bad)
    for bad in ("30,x", "0", "30,30"):
        with pytest.raises(PanelError, match="--thresholds"):
            parse_thresholds(bad)


# ---------------------------------------------------------------------------------------------
# Differential test against an independent pure-Python implementation


def reference_vintage(
    rows: Sequence[Row], dpd_map: Mapping[str, int], thresholds: Sequence[int], weighted: bool
) -> dict[int, tuple[int, int, dict[int, int], dict[int, int], dict[int, int]]]:
    """mob -> (accounts, observed, ever counts, current counts, ever weights)."""
    last_period = max(r[1] for r in rows)
    history: dict[str, dict[int, tuple[int, int]]] = {}
    for account, period, state, weight in rows:
        history.setdefault(account, {})[period] = (dpd_map[state], weight if weighted else 1)
    out: dict[int, tuple[int, int, dict[int, int], dict[int, int], dict[int, int]]] = {}
    for months in history.values():
        cohort = min(months)
        first_weight = months[cohort][1]
        for k in range(last_period - cohort + 1):
            accounts, observed, ever, current, ever_w = out.get(
                k, (0, 0, dict.fromkeys(thresholds, 0), dict.fromkeys(thresholds, 0),
                    dict.fromkeys(thresholds, 0))
            )  # fmt: skip
            row = months.get(cohort + k)
            for x in thresholds:
                reached = [d >= x for p, (d, _) in months.items() if p <= cohort + k]
                ever[x] += any(reached)
                ever_w[x] += first_weight if any(reached) else 0
                current[x] += row is not None and row[0] >= x
            out[k] = (accounts + 1, observed + (row is not None), ever, current, ever_w)
    return out


@st.composite
def vintage_cases(draw: st.DrawFn) -> tuple[list[Row], list[int], bool]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from("abcdef"), st.integers(-6, 4)),
            unique=True,
            min_size=1,
            max_size=35,
        )
    )
    states = sorted(CREDIT_RECORD_DPD_MAP)
    rows = [(a, p, draw(st.sampled_from(states)), draw(st.integers(0, 500))) for a, p in keys]
    thresholds = draw(st.lists(st.sampled_from([1, 30, 60, 90, 150]), unique=True, min_size=1))
    return rows, thresholds, draw(st.booleans())


@settings(max_examples=30, deadline=None)
@given(vintage_cases())
def test_ibis_matches_pure_python(case: tuple[list[Row], list[int], bool]) -> None:
    rows, thresholds, weighted = case
    panel = make_panel(rows, WEIGHTED if weighted else SPEC)
    result = vintage(panel, dpd_map=CREDIT_RECORD_DPD_MAP, thresholds=thresholds)
    expected = reference_vintage(rows, CREDIT_RECORD_DPD_MAP, thresholds, weighted)
    got = {
        r.mob: (r.accounts, r.observed, r.ever, r.current, dict(r.ever_weight))
        for r in result.by_mob
    }
    assert got == expected
    for r in result.by_mob:  # a higher X never has more accounts ever X+
        ordered = sorted(thresholds)
        assert all(r.ever[a] >= r.ever[b] for a, b in itertools.pairwise(ordered))

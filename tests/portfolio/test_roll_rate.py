"""Roll-rate matrices, cure rates and flow rates: hand-computed panels and a differential test."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.portfolio.panel import Panel, PanelError, PanelSpec, load_panel
from overdue.portfolio.roll_rate import Ladder, cure_rates, flow_rates, roll_rate

Row = tuple[str, int, str, int]  # account, period, state, weight
SPEC = PanelSpec("acct", "period", "status")
WEIGHTED = PanelSpec("acct", "period", "status", "balance_fen")


def month_text(index: int) -> str:
    year, month0 = divmod(2023 * 12 + index, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def month_date(index: int) -> dt.date:
    year, month0 = divmod(2023 * 12 + index, 12)
    return dt.date(year, month0 + 1, 28 if month0 == 1 else 30)


def make_panel(rows: Sequence[Row], spec: PanelSpec = SPEC, period_format: str = "int") -> Panel:
    encode = {"int": lambda p: p, "text": month_text, "date": month_date}[period_format]
    table = pa.table(
        {
            "acct": [r[0] for r in rows],
            "period": [encode(r[1]) for r in rows],
            "status": [r[2] for r in rows],
            "balance_fen": pa.array([r[3] for r in rows], pa.int64()),
        }
    )
    return Panel.from_table(ibis.memtable(table), spec)


# Hand-made panel (periods 1..4). Account B has a gap at 3; state X has no pair starting in it.
HAND: list[Row] = [
    ("A", 1, "0", 10), ("A", 2, "1", 20), ("A", 3, "2", 30), ("A", 4, "0", 40),
    ("B", 1, "0", 5), ("B", 2, "0", 15), ("B", 4, "1", 0),
    ("C", 2, "1", 7), ("C", 3, "1", 9), ("C", 4, "X", 1),
    ("D", 1, "2", 3), ("D", 2, "0", 4),
]  # fmt: skip


def test_hand_made_counts_and_rates_by_count() -> None:
    matrix = roll_rate(make_panel(HAND))
    # pairs: A 0->1, 1->2, 2->0; B 0->0 (1->2; 2->4 is a gap); C 1->1, 1->X; D 2->0.
    assert matrix.states == ("0", "1", "2", "X")
    assert matrix.to_json_dict() == {
        "states": ["0", "1", "2", "X"],
        "counts": [[1, 1, 0, 0], [0, 1, 1, 1], [2, 0, 0, 0], [0, 0, 0, 0]],
        "rates": [
            [0.5, 0.5, 0.0, 0.0],
            [0.0, 1 / 3, 1 / 3, 1 / 3],
            [1.0, 0.0, 0.0, 0.0],
            [None, None, None, None],
        ],
    }
    assert matrix.pairs == 7


def test_hand_made_rates_by_weight_at_t_minus_1() -> None:
    matrix = roll_rate(make_panel(HAND, WEIGHTED))
    # row 0: A (10 at t-1) -> 1, B (5) -> 0; row 1: C 7 -> 1, A 20 -> 2, C 9 -> X; row 2: A 30, D 3.
    assert matrix.rates == [
        [5 / 15, 10 / 15, 0.0, 0.0],
        [0.0, 7 / 36, 20 / 36, 9 / 36],
        [1.0, 0.0, 0.0, 0.0],
        [None, None, None, None],
    ]
    assert matrix.counts[1] == (0, 1, 1, 1)


def test_excluded_state_removes_the_row_before_pairing_and_order_is_kept() -> None:
    matrix = roll_rate(make_panel(HAND, WEIGHTED), ["2", "1", "0"])
    # C's row at 4 (X) is left out, so C is "not present" at 4: its 1->X pair disappears.
    assert matrix.states == ("2", "1", "0")
    assert matrix.counts == ((0, 0, 2), (1, 1, 0), (0, 1, 1))
    assert matrix.rates[1] == [20 / 27, 7 / 27, 0.0]


def test_state_absent_from_the_data_gets_a_null_row() -> None:
    matrix = roll_rate(make_panel(HAND), ["0", "Z"])
    assert matrix.counts == ((1, 0), (0, 0))
    assert matrix.rates == [[1.0, 0.0], [None, None]]


def test_states_sort_as_text() -> None:
    rows: list[Row] = [("a", 1, "9", 1), ("a", 2, "10", 1), ("b", 1, "C", 1), ("b", 2, "0", 1)]
    assert roll_rate(make_panel(rows)).states == ("0", "10", "9", "C")


@pytest.mark.parametrize("period_format", ["text", "date"])
def test_months_are_consecutive_across_a_year_end(period_format: str) -> None:
    # index 11 = 2023-12, 12 = 2024-01, 14 = 2024-03 (a gap after 2024-01)
    rows: list[Row] = [("a", 11, "0", 1), ("a", 12, "1", 1), ("a", 14, "2", 1)]
    matrix = roll_rate(make_panel(rows, period_format=period_format))
    assert matrix.states == ("0", "1", "2")
    assert matrix.counts == ((0, 1, 0), (0, 0, 0), (0, 0, 0))


def test_float_weights_and_zero_weight_row() -> None:
    table = pa.table(
        {
            "acct": [1, 1, 2, 2, 3, 3],
            "period": [1, 2, 1, 2, 1, 2],
            "status": ["a", "b", "a", "a", "z", "a"],
            "w": [0.25, 9.0, 0.75, 1.0, 0.0, 1.0],
        }
    )
    panel = Panel.from_table(ibis.memtable(table), PanelSpec("acct", "period", "status", "w"))
    matrix = roll_rate(panel)
    assert matrix.rates[0] == pytest.approx([0.75, 0.25, 0.0])
    assert matrix.rates[2] == [None, None, None]  # z has a pair, but all its weight is zero
    assert matrix.counts[2] == (1, 0, 0)


# ---------------------------------------------------------------------------------------------
# Differential test against an independent pure-Python implementation


def reference_roll_rate(
    rows: Sequence[Row], states: Sequence[str] | None, weighted: bool
) -> tuple[list[str], list[list[int]], list[list[Fraction | None]]]:
    chosen = sorted({r[2] for r in rows}) if states is None else list(states)
    at = {(a, p): (s, w if weighted else 1) for a, p, s, w in rows if s in chosen}
    count: dict[tuple[str, str], int] = defaultdict(int)
    weight: dict[tuple[str, str], int] = defaultdict(int)
    for (account, period), (state, w) in at.items():
        later = at.get((account, period + 1))
        if later is not None:
            count[state, later[0]] += 1
            weight[state, later[0]] += w
    counts = [[count[i, j] for j in chosen] for i in chosen]
    rates: list[list[Fraction | None]] = []
    for i in chosen:
        row_total = sum(weight[i, j] for j in chosen)
        rates.append([Fraction(weight[i, j], row_total) if row_total else None for j in chosen])
    return chosen, counts, rates


STATE_POOL = ["0", "1", "10", "9", "C", "X"]


@st.composite
def panels(draw: st.DrawFn) -> tuple[list[Row], list[str] | None, bool, str]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from("abcde"), st.integers(-3, 6)),
            unique=True,
            min_size=1,
            max_size=30,
        )
    )
    rows = [(a, p, draw(st.sampled_from(STATE_POOL)), draw(st.integers(0, 1000))) for a, p in keys]
    states = draw(
        st.none()
        | st.lists(st.sampled_from([*STATE_POOL, "Z"]), unique=True, min_size=1, max_size=7)
    )
    weighted = draw(st.booleans())
    period_format = draw(st.sampled_from(["int", "text", "date"]))
    return rows, states, weighted, period_format


@settings(max_examples=60, deadline=None)
@given(panels())
def test_ibis_matches_pure_python(case: tuple[list[Row], list[str] | None, bool, str]) -> None:
    rows, states, weighted, period_format = case
    panel = make_panel(rows, WEIGHTED if weighted else SPEC, period_format)
    matrix = roll_rate(panel, states)
    chosen, counts, rates = reference_roll_rate(rows, states, weighted)
    assert list(matrix.states) == chosen
    assert [list(r) for r in matrix.counts] == counts
    assert matrix.rates == [[None if r is None else float(r) for r in row] for row in rates]
    for row in matrix.rates:
        assert all(r is None for r in row) or sum(r for r in row if r is not None) == (
            pytest.approx(1.0)
        )


# ---------------------------------------------------------------------------------------------
# Flow rates and cure rates (by balance) on a hand-made ladder M0 < M1 < M2


FLOW_PANEL: list[Row] = [
    ("a", 1, "M0", 100), ("b", 1, "M1", 50), ("c", 1, "M0", 200),
    ("a", 2, "M1", 90), ("b", 2, "M2", 50), ("c", 2, "M0", 180), ("d", 2, "M1", 10),
    ("a", 3, "M2", 80), ("b", 3, "M0", 0), ("c", 3, "M1", 170), ("d", 3, "M0", 5),
]  # fmt: skip
LADDER = Ladder.parse("M0,M1,M2")


def test_flow_rates_and_net_flow_to_loss_by_hand() -> None:
    flows = flow_rates(make_panel(FLOW_PANEL, WEIGHTED), LADDER)
    # M0->M1: (M1 at 2 = 90+10) + (M1 at 3 = 170) over (M0 at 1 = 300) + (M0 at 2 = 180)
    # M1->M2: (M2 at 2 = 50) + (M2 at 3 = 80) over (M1 at 1 = 50) + (M1 at 2 = 100)
    assert [(s.from_bucket, s.to_bucket) for s in flows.steps] == [("M0", "M1"), ("M1", "M2")]
    assert [s.rate for s in flows.steps] == [270 / 480, 130 / 150]
    assert flows.net_flow_to_loss == pytest.approx(270 / 480 * 130 / 150)
    assert [p.period for p in flows.by_period] == ["2", "3"]
    assert [s.rate for s in flows.by_period[0].steps] == [100 / 300, 50 / 50]
    assert [s.rate for s in flows.by_period[1].steps] == [170 / 180, 80 / 100]


def test_cure_rates_by_hand() -> None:
    # M1 at t-1: b 50 -> M2, a 90 -> M2, d 10 -> M0; M2 at t-1: b 50 -> M0.
    assert cure_rates(make_panel(FLOW_PANEL, WEIGHTED), LADDER) == {"M1": 10 / 150, "M2": 1.0}
    assert cure_rates(make_panel(FLOW_PANEL), LADDER) == {"M1": 1 / 3, "M2": 1.0}


def test_ladder_groups_states() -> None:
    rows: list[Row] = [("a", 1, "C", 1), ("a", 2, "1", 1), ("b", 1, "X", 1), ("b", 2, "X", 1)]
    ladder = Ladder.parse("C+X,1")
    assert ladder.labels == ("C+X", "1")
    flows = flow_rates(make_panel(rows), ladder)
    assert flows.steps[0].rate == 1 / 2
    assert cure_rates(make_panel(rows), ladder) == {"1": None}


def test_bad_ladders() -> None:
    with pytest.raises(PanelError, match="two buckets"):
        Ladder.parse("C,C")
    with pytest.raises(PanelError, match="at least two"):
        Ladder.parse("C")


# ---------------------------------------------------------------------------------------------
# Bad panels: one clear line


def test_duplicate_rows_name_the_first_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("acct,period,status\na,1,0\nb,1,0\nb,2,1\na,1,1\nb,2,0\n")
    with pytest.raises(
        PanelError, match=r"duplicate rows for \(acct=a, period=1\) at lines 2 and 5"
    ):
        load_panel(path, SPEC)


def test_missing_column_names_it_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"acct": [1], "period": [1]}), path)
    with pytest.raises(PanelError, match=r"p\.parquet: column 'status' not found"):
        load_panel(path, SPEC)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("acct,period,status,w\na,1,0,-5\n", "line 2: column 'w' is negative"),
        ("acct,period,status,w\na,1,0,5\na,2,0,ten\n", "column 'w' must be numeric"),
        ("acct,period,status,w\na,1,0,5\na,2,0,\n", "line 3: column 'w' is empty"),
        ("acct,period,status,w\na,1.5,0,5\n", "column 'period' must hold integers or months"),
        ("acct,period,status,w\na,2024-13,0,5\n", "line 2: column 'period' is not a period"),
        ("acct,period,status,w\n", "no data rows"),
        ("", "the file is empty"),
    ],
)
def test_bad_values(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(body)
    with pytest.raises(PanelError, match=message):
        load_panel(path, PanelSpec("acct", "period", "status", "w"))


def test_decimal_weights_give_the_same_rates_as_integer_fen(tmp_path: Path) -> None:
    fen = [r[3] for r in HAND]
    table = pa.table(
        {
            "acct": [r[0] for r in HAND],
            "period": [r[1] for r in HAND],
            "status": [r[2] for r in HAND],
            "balance_fen": pa.array([Decimal(f) / 100 for f in fen], pa.decimal128(12, 2)),
        }
    )
    path = tmp_path / "decimal.parquet"
    pq.write_table(table, path)
    from_decimal = roll_rate(load_panel(path, WEIGHTED))
    assert from_decimal.rates == roll_rate(make_panel(HAND, WEIGHTED)).rates


def test_csv_ids_are_text(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("acct,period,status\n01,1,0\n1,1,1\n01,2,1\n1,2,1\n")
    assert roll_rate(load_panel(path, SPEC)).counts == ((0, 1), (0, 1))


def test_empty_state_in_the_list_is_refused() -> None:
    with pytest.raises(PanelError, match="empty entry"):
        roll_rate(make_panel(HAND), ["0", ""])

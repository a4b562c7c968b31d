"""The SQL month codes equal ``domain.credit_reporting`` on random months (the whole extract is
compared with the reference in ``test_credit_bureau.py``)."""

from __future__ import annotations

import itertools
from dataclasses import asdict

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.domain.credit_reporting import ReportingMonth, metro2_history, pboc_code
from overdue.reports.bureau_grid import METRO2_HISTORY_SQL, PBOC_CODE_SQL

# every 30-day step's edges, where the integer divisions of the two forms could part
BOUNDARIES_DPD = sorted({d + e for d in range(0, 241, 30) for e in (-1, 0, 1) if d + e >= 0})
months = st.builds(
    ReportingMonth,
    opened=st.booleans(),
    known=st.booleans(),
    product=st.sampled_from(["revolving", "installment"]),
    status=st.sampled_from(["current", "in_grace", "overdue", "charged_off", "settled"]),
    dpd=st.one_of(st.sampled_from(BOUNDARIES_DPD), st.integers(0, 10_000)),
    missed_minimums=st.integers(0, 30),
    due_in_month=st.booleans(),
    owed_fen=st.one_of(st.just(0), st.integers(0, 10**13)),
    charged_off=st.booleans(),
    placed_for_collection=st.booleans(),
)


def codes_by_sql(rows: list[ReportingMonth]) -> list[tuple[str, str]]:
    records = [asdict(m) for m in rows]
    for record in records:
        record["placed"] = record.pop("placed_for_collection")
    table = pa.Table.from_pylist(records)
    con = duckdb.connect()
    try:
        con.register("cells", table)
        got = con.sql(
            f"SELECT {PBOC_CODE_SQL} AS pboc, {METRO2_HISTORY_SQL} AS metro2 FROM cells"
        ).fetchall()
    finally:
        con.close()
    return got


@settings(max_examples=150, deadline=None)
@given(st.lists(months, min_size=1, max_size=40))
def test_sql_codes_equal_the_domain(rows: list[ReportingMonth]) -> None:
    assert codes_by_sql(rows) == [(pboc_code(m), metro2_history(m)) for m in rows]


def test_sql_codes_equal_the_domain_on_every_edge() -> None:
    """Every combination of the fields' edge values (about 50k months), in one query."""
    rows = [
        ReportingMonth(opened=o, known=k, product=p, status=s, dpd=d, missed_minimums=mm,
                       due_in_month=due, owed_fen=owed, charged_off=co, placed_for_collection=pl)
        for o, k in ((False, False), (True, False), (True, True))
        for p, s, d, mm, due, owed, co, pl in itertools.product(
            ("revolving", "installment"),
            ("current", "in_grace", "overdue", "charged_off", "settled"),
            BOUNDARIES_DPD, (0, 1, 7, 8), (False, True), (0, 1), (False, True), (False, True))
    ]  # fmt: skip
    assert len(rows) > 40_000
    assert codes_by_sql(rows) == [(pboc_code(m), metro2_history(m)) for m in rows]

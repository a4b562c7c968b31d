"""The bureau extract with its month codes computed in DuckDB, for large books.

``credit_bureau.build_extract`` builds a ``ReportingMonth`` for each of an account's 25 months in
Python: the reference, exact and slow (about 25 Python objects per account). Here the same codes
come from SQL expressions (``PBOC_CODE_SQL``, ``METRO2_HISTORY_SQL``) over the month-end states,
joined into one grid string per account; Python sees one row per reported account. The
expressions are checked against ``domain.credit_reporting`` on random months, and the whole
extract against the reference on a random book (``tests/reports/test_bureau_grid.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from overdue.domain import credit_reporting as cr
from overdue.reports.credit_bureau import (
    STATE_BODY,
    AccountView,
    BureauError,
    Extract,
    Month,
    Notices,
    add_account,
    month_end_dates,
    reporting_month,
    state_connection,
    state_files,
)

FETCH_ROWS = 100_000

# Over columns opened, known, product, status, dpd, missed_minimums, due_in_month, owed_fen,
# charged_off, placed: the same cases, in the same order, as domain.credit_reporting.
_CLOSED = "(status = 'settled' AND (product = 'installment' OR charged_off))"
PBOC_CODE_SQL = f"""CASE
    WHEN NOT opened THEN '/'
    WHEN NOT known THEN '#'
    WHEN {_CLOSED} THEN 'C'
    WHEN status IN ('overdue', 'charged_off') AND dpd > 0 THEN
        CASE WHEN product = 'revolving'
             THEN CAST(least(7, greatest(1, missed_minimums)) AS VARCHAR)
             ELSE CAST(least(7, (dpd + 29) // 30) AS VARCHAR) END
    WHEN NOT due_in_month AND dpd = 0 THEN '*'
    ELSE 'N' END"""
METRO2_HISTORY_SQL = f"""CASE
    WHEN NOT opened THEN 'B'
    WHEN NOT known THEN 'D'
    WHEN status = 'charged_off' OR ({_CLOSED} AND charged_off) THEN 'L'
    WHEN placed THEN 'G'
    WHEN least(6, dpd // 30) = 0 AND owed_fen = 0 THEN 'E'
    ELSE CAST(least(6, dpd // 30) AS VARCHAR) END"""

GRID_SQL = f"""
WITH st AS ({STATE_BODY}),
now AS (SELECT * FROM st WHERE as_of = $as_of),
book AS (SELECT account_id, opened_on, currency FROM read_parquet($book)),
cells AS (
    SELECT n.account_id, m.k,
           b.opened_on <= m.month_end AS opened,
           s.account_id IS NOT NULL AS known,
           coalesce(s.product, n.product) AS product,
           coalesce(s.status, 'current') AS status,
           coalesce(s.dpd, 0) AS dpd,
           coalesce(s.missed_minimums, 0) AS missed_minimums,
           coalesce(s.due_in_month, true) AS due_in_month,
           coalesce(s.owed_fen, 0) AS owed_fen,
           s.charged_off_on IS NOT NULL AS charged_off,
           false AS placed
    FROM now n JOIN book b ON b.account_id = n.account_id CROSS JOIN months m
    LEFT JOIN st s ON s.account_id = n.account_id AND s.as_of = m.day),
grids AS (
    SELECT account_id,
           string_agg({PBOC_CODE_SQL}, '' ORDER BY k) AS pboc_codes,
           string_agg({METRO2_HISTORY_SQL}, '' ORDER BY k) AS metro2_codes
    FROM cells GROUP BY account_id),
spells AS (
    SELECT account_id,
           max(as_of) FILTER (WHERE status IN ('current', 'in_grace')) AS cured_on,
           max(as_of) FILTER (WHERE dpd >= 30 AND delinquent_since IS NOT NULL) AS late_on,
           arg_max(delinquent_since, as_of)
               FILTER (WHERE dpd >= 30 AND delinquent_since IS NOT NULL) AS late_since
    FROM st GROUP BY account_id)
SELECT n.*, b.opened_on, b.currency, g.pboc_codes, g.metro2_codes,
       CASE WHEN sp.late_on > coalesce(sp.cured_on, DATE '0001-01-01')
            THEN sp.late_since + INTERVAL 29 DAY END::DATE AS first_delinquency,
       p.account_id IS NOT NULL AS prev_known, p.status AS prev_status, p.dpd AS prev_dpd,
       p.missed_minimums AS prev_missed_minimums, p.due_in_month AS prev_due_in_month,
       p.owed_fen AS prev_owed_fen, p.charged_off_on AS prev_charged_off_on,
       p.product AS prev_product
FROM now n
LEFT JOIN book b ON b.account_id = n.account_id
LEFT JOIN grids g ON g.account_id = n.account_id
LEFT JOIN spells sp ON sp.account_id = n.account_id
LEFT JOIN st p ON p.account_id = n.account_id AND p.as_of = $previous
ORDER BY n.account_id
"""


def months_table(month: Month, ends: dict[Month, date]) -> pa.Table:
    """k (0 … 24, the reporting month last), each month's last day and its snapshot (or null)."""
    months = [month.plus(k) for k in range(-cr.GRID_MONTHS, 1)]
    return pa.table(
        {
            "k": pa.array(range(len(months)), pa.int64()),
            "month_end": pa.array([m.last_day for m in months], pa.date32()),
            "day": pa.array([ends.get(m) for m in months], pa.date32()),
        }
    )


def _grid_rows(
    data_dir: Path, snapshot_dir: Path, month: Month, ends: dict[Month, date]
) -> Iterator[dict[str, Any]]:
    accounts, items = state_files(snapshot_dir, sorted(ends.values()))
    con = state_connection(data_dir, snapshot_dir, accounts)
    try:
        con.register("months", months_table(month, ends))
        params = {"accounts": accounts, "items": items, "as_of": ends[month],
                  "previous": ends.get(month.plus(-1)),
                  "book": str(data_dir / "accounts.parquet")}  # fmt: skip
        reader = con.sql(GRID_SQL, params=params).to_arrow_reader(FETCH_ROWS)
        for batch in reader:
            yield from batch.to_pylist()
    finally:
        con.close()


def build_extract_sql(
    data_dir: Path, snapshot_dir: Path, month: Month, notices: Notices | None = None
) -> Extract:
    """``credit_bureau.build_extract`` with the month codes from SQL: the same extract."""
    notices = notices or Notices()
    if not (data_dir / "accounts.parquet").is_file():
        raise BureauError(f"{data_dir}: not a book (no accounts.parquet)")
    ends = month_end_dates(snapshot_dir, month)
    extract = Extract(month=month, as_of=ends[month])
    before = month.plus(-1)
    for row in _grid_rows(data_dir, snapshot_dir, month, ends):
        if row["opened_on"] is None:
            raise BureauError(
                f"{data_dir}: account {row['account_id']!r} of the snapshots is not in the book"
            )
        before_opened = row["opened_on"] <= before.last_day
        prev_row = row if row["prev_known"] else None
        previous = reporting_month(prev_row, before_opened, row["product"], prefix="prev_")
        view = AccountView(
            now=row,
            currency=row["currency"],
            state=reporting_month(row, row["opened_on"] <= month.last_day, row["product"]),
            previous=previous,
            pboc_codes=row["pboc_codes"],
            metro2_codes=row["metro2_codes"],
            first_delinquency=row["first_delinquency"],
        )
        add_account(extract, view, notices)
    return extract

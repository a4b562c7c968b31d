"""Monthly credit-bureau extracts from the snapshot history (domain.md §5).

``build_extract(data_dir, snapshot_dir, month, notices=...)`` reads the last snapshot of the
reporting month and of each of the 24 months before it, and gives one row per account to report:

- accounts in CNY go to the **PBOC** (征信) extract: the month's grid character, the 24-month grid
  (oldest first), the overdue total and the missed minimums;
- accounts in USD go to the **Metro 2** extract: account status, the 24-month payment history
  profile (newest first, the reporting month excluded), current balance, amount past due (only from
  30 DPD) and the date of first delinquency.

The codes come from ``overdue.domain.credit_reporting``; this module only gathers the month-end
states. An account closed (``credit_reporting.is_closed``) before the reporting month was reported
closed then and is left out.

**Telling the customer first.** PBOC rules require the customer to be told before negative
information is sent. A CNY account whose month is negative is reported only if a notice reached the
customer during the current delinquency (on or after ``delinquent_since`` and by the snapshot date);
otherwise it is held back and listed in the notices file, and it is reported once a notice is on
record. US accounts are not held back: the FCRA lets the notice follow within 30 days of the first
negative report, so a newly negative account without a notice is listed with that deadline.

What the month-end snapshots cannot say: whether an account was with an agency in earlier months
(``placed`` applies to the reporting month only), and the events behind ``G``, ``D`` and ``Z``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from overdue.domain import credit_reporting as cr
from overdue.domain.money import to_fen
from overdue.portfolio.eod import (
    resolve_policies,
    snapshot_dates,
    snapshot_files,
    snapshot_item_files,
)
from overdue.portfolio.monitor_history import MonitoringError, check_manifest, choose_dates

MAX_ACCOUNT_MONTHS = 300_000_000
"""Rows (account × month) read at most: 12M accounts × 25 months."""
FCRA_NOTICE_DAYS = 30
MARKET_OF_CURRENCY = {"CNY": "pboc", "USD": "metro2"}


class BureauError(ValueError):
    """Input the user must fix: one line naming the folder or file and the reason."""


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            year, month = (int(part) for part in text.split("-"))
            date(year, month, 1)
        except ValueError:
            raise BureauError(f"--month {text!r}: expected YYYY-MM") from None
        return cls(year, month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.plus(1).first_day - timedelta(days=1)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)


@dataclass(frozen=True)
class Notices:
    """What the operation knows: the business dates on which a notice that mentions the credit
    record reached each account's debtor, and the accounts an outside agency holds now."""

    sent_on: Mapping[str, Sequence[date]] = field(default_factory=dict)
    placed: frozenset[str] = frozenset()

    def told_between(self, account_id: str, first: date, last: date) -> bool:
        return any(first <= day <= last for day in self.sent_on.get(account_id, ()))


@dataclass
class Extract:
    """The month's rows per market and the notices file's rows."""

    month: Month
    as_of: date
    pboc: list[dict[str, Any]] = field(default_factory=list)
    metro2: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    skipped_closed: int = 0


STATE_BODY = """
WITH acc AS (
    SELECT account_id, customer_id, product, policy, as_of, status, dpd, total_overdue_fen,
           delinquent_since, charged_off_on
    FROM read_parquet($accounts)),
it AS (
    SELECT i.account_id, i.as_of, i.due_date, a.product,
           i.unpaid_principal_fen + i.unpaid_interest_fen + i.unpaid_fee_fen
             + i.unpaid_penalty_fen AS owed_fen,
           date_diff('day', i.due_date, i.as_of) > g.grace_days AS past_grace,
           (i.unpaid_principal_fen + i.unpaid_interest_fen + i.unpaid_fee_fen
             + i.unpaid_penalty_fen) > g.tolerance_fen AND NOT i.closed_by_minimum AS is_open
    FROM read_parquet($items) i
    JOIN acc a ON a.account_id = i.account_id AND a.as_of = i.as_of
    JOIN grace g ON g.policy = a.policy AND g.product = a.product),
paid AS (
    SELECT account_id, as_of, max(due_date) FILTER (WHERE past_grace AND NOT is_open) AS ok_due
    FROM it GROUP BY account_id, as_of),
agg AS (
    SELECT it.account_id, it.as_of, sum(it.owed_fen) AS owed_fen,
           count(*) FILTER (WHERE it.due_date >= date_trunc('month', it.as_of)
                              AND it.due_date <= it.as_of) > 0 AS due_in_month,
           count(*) FILTER (WHERE it.past_grace AND it.is_open
                              AND (p.ok_due IS NULL OR it.due_date > p.ok_due)) AS missed
    FROM it JOIN paid p ON p.account_id = it.account_id AND p.as_of = it.as_of
    GROUP BY it.account_id, it.as_of)
SELECT acc.*, coalesce(agg.owed_fen, 0)::BIGINT AS owed_fen,
       coalesce(agg.due_in_month, false) AS due_in_month,
       coalesce(agg.missed, 0)::BIGINT AS missed_minimums
FROM acc LEFT JOIN agg ON agg.account_id = acc.account_id AND agg.as_of = acc.as_of
"""
STATE_SQL = STATE_BODY + "ORDER BY account_id, as_of\n"


def month_end_dates(snapshot_dir: Path, month: Month) -> dict[Month, date]:
    """The last snapshot of the reporting month and of each of the 24 months before it."""
    if not snapshot_dir.is_dir():
        raise BureauError(f"{snapshot_dir}: no such snapshot folder")
    first = month.plus(-cr.GRID_MONTHS).first_day
    chosen = choose_dates(snapshot_dates(snapshot_dir), "month", first, month.last_day)
    by_month = {Month(d.year, d.month): d for d in chosen}
    if month not in by_month:
        raise BureauError(f"{snapshot_dir}: no snapshot in {month.label}; run overdue eod first")
    for day in by_month.values():
        try:
            check_manifest(snapshot_dir, day)
        except MonitoringError as exc:
            raise BureauError(str(exc)) from None
    return by_month


def grace_table(data_dir: Path) -> pa.Table:
    """(policy, product) → grace days and tolerance in fen, from the book's policies."""
    rows = [
        {"policy": name, "product": product, "grace_days": p.grace_days,
         "tolerance_fen": to_fen(p.tolerance)}
        for (name, product), p in resolve_policies(data_dir).items()
    ]  # fmt: skip
    schema = pa.schema([("policy", pa.string()), ("product", pa.string()),
                        ("grace_days", pa.int64()), ("tolerance_fen", pa.int64())])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def state_connection(data_dir: Path, snapshot_dir: Path, accounts: list[str]) -> Any:
    """A DuckDB connection with the book's ``grace`` table, once the account-months are counted
    within ``MAX_ACCOUNT_MONTHS`` (the caller closes it)."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("grace", grace_table(data_dir))
        ((rows,),) = con.execute(
            "SELECT count(*) FROM read_parquet($accounts)", {"accounts": accounts}
        ).fetchall()
    except BaseException:
        con.close()
        raise
    if rows > MAX_ACCOUNT_MONTHS:
        con.close()
        raise BureauError(f"{snapshot_dir}: {rows} account-months over {MAX_ACCOUNT_MONTHS}")
    return con


def state_files(snapshot_dir: Path, days: Sequence[date]) -> tuple[list[str], list[str]]:
    """The account files and the item files of the snapshots of ``days``."""
    accounts = [str(f) for d in days for f in snapshot_files(snapshot_dir, d)]
    items = [str(f) for d in days for f in snapshot_item_files(snapshot_dir, d)]
    return accounts, items


def month_states(data_dir: Path, snapshot_dir: Path, days: Sequence[date]) -> pa.Table:
    """One row per (account, month-end date): the account's state and its item aggregates."""
    accounts, items = state_files(snapshot_dir, days)
    con = state_connection(data_dir, snapshot_dir, accounts)
    try:
        return con.sql(STATE_SQL, params={"accounts": accounts, "items": items}).to_arrow_table()
    finally:
        con.close()


def book_accounts(data_dir: Path) -> dict[str, tuple[date, str]]:
    """account_id → (opened_on, currency) from the book."""
    path = data_dir / "accounts.parquet"
    if not path.is_file():
        raise BureauError(f"{data_dir}: not a book (no accounts.parquet)")
    table = pq.read_table(path, columns=["account_id", "opened_on", "currency"])
    return {
        a: (o, c)
        for a, o, c in zip(
            table["account_id"].to_pylist(),
            table["opened_on"].to_pylist(),
            table["currency"].to_pylist(),
            strict=True,
        )
    }


def _by_account(states: pa.Table) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The rows of each account, in date order (the query sorts them)."""
    current: str | None = None
    rows: list[dict[str, Any]] = []
    for batch in states.to_batches(max_chunksize=100_000):
        for row in batch.to_pylist():
            if row["account_id"] != current:
                if current is not None:
                    yield current, rows
                current, rows = row["account_id"], []
            rows.append(row)
    if current is not None:
        yield current, rows


def reporting_month(
    row: dict[str, Any] | None, opened: bool, product: str, prefix: str = ""
) -> cr.ReportingMonth:
    """The domain's view of one account's month-end row (None: no snapshot that month), from
    the row's columns named ``prefix`` + the state's names."""
    if row is None:
        return _EMPTY[(opened, product)]
    return cr.ReportingMonth(
        opened=opened,
        product=row[f"{prefix}product"],
        status=row[f"{prefix}status"],
        dpd=row[f"{prefix}dpd"],
        missed_minimums=row[f"{prefix}missed_minimums"],
        due_in_month=row[f"{prefix}due_in_month"],
        owed_fen=row[f"{prefix}owed_fen"],
        charged_off=row[f"{prefix}charged_off_on"] is not None,
    )


_EMPTY = {
    (opened, product): cr.ReportingMonth(opened=opened, known=False, product=product)
    for opened in (False, True)
    for product in cr.PRODUCTS
}


@dataclass(frozen=True)
class AccountView:
    """One account to report: its reporting-month row (``STATE_SQL`` columns), its state and
    the month before's, and its 25 month codes (oldest first, the reporting month last)."""

    now: dict[str, Any]
    currency: str
    state: cr.ReportingMonth
    previous: cr.ReportingMonth
    pboc_codes: str
    metro2_codes: str
    first_delinquency: date | None

    def __post_init__(self) -> None:
        assert len(self.pboc_codes) == len(self.metro2_codes) == cr.GRID_MONTHS + 1


def build_extract(
    data_dir: Path, snapshot_dir: Path, month: Month, notices: Notices | None = None
) -> Extract:
    """The reporting month's rows for both bureaus and the notices file (module docstring), the
    month codes computed account by account with ``domain.credit_reporting`` (the reference;
    ``bureau_grid.build_extract_sql`` computes them in DuckDB, for large books)."""
    notices = notices or Notices()
    ends = month_end_dates(snapshot_dir, month)
    months = [month.plus(k) for k in range(-cr.GRID_MONTHS, 1)]
    book = book_accounts(data_dir)
    extract = Extract(month=month, as_of=ends[month])
    states = month_states(data_dir, snapshot_dir, sorted(ends.values()))
    last_days = [(m.year, m.month, m.last_day) for m in months]
    for account_id, rows in _by_account(states):
        now = rows[-1]
        if (now["as_of"].year, now["as_of"].month) != (month.year, month.month):
            continue  # not in the reporting month's snapshot
        if account_id not in book:
            raise BureauError(f"{data_dir}: account {account_id!r} of the snapshots is not in the book")
        opened_on, currency = book[account_id]
        by_month = {(r["as_of"].year, r["as_of"].month): r for r in rows}
        history = [
            reporting_month(by_month.get((y, m)), opened_on <= last, now["product"])
            for y, m, last in last_days
        ]
        view = AccountView(
            now=now,
            currency=currency,
            state=history[-1],
            previous=history[-2],
            pboc_codes="".join(cr.pboc_code(h) for h in history),
            metro2_codes="".join(cr.metro2_history(h) for h in history),
            first_delinquency=_first_delinquency(rows),
        )
        add_account(extract, view, notices)
    return extract


def add_account(extract: Extract, view: AccountView, notices: Notices) -> None:
    """Put one account in its bureau's rows, or hold it back, or skip it as closed earlier."""
    if view.now["account_id"] in notices.placed:
        view = replace(view, state=replace(view.state, placed_for_collection=True))
    if cr.is_closed(view.state) and view.previous.known and cr.is_closed(view.previous):
        extract.skipped_closed += 1
        return
    market = MARKET_OF_CURRENCY.get(view.currency)
    if market is None:
        raise BureauError(
            f"account {view.now['account_id']!r}: no bureau for currency {view.currency!r}"
        )
    if market == "pboc":
        row = pboc_row(extract.month, view)
        held = _pboc_notice(view.now, row["pboc_code"], notices)
        if held is not None:
            extract.notices.append(held)
            return
        extract.pboc.append(row)
        return
    row = metro2_row(extract.month, view)
    due = _fcra_notice(view, row["account_status"], notices)
    if due is not None:
        extract.notices.append(due)
    extract.metro2.append(row)


def _common(month: Month, now: dict[str, Any]) -> dict[str, Any]:
    """The columns that open both bureaus' rows."""
    keys = ("account_id", "customer_id", "product", "as_of")
    return {"report_month": month.label, **{key: now[key] for key in keys}}


def pboc_row(month: Month, view: AccountView) -> dict[str, Any]:
    now = view.now
    return {
        **_common(month, now),
        "status": now["status"],
        "dpd": now["dpd"],
        "pboc_code": view.pboc_codes[-1],
        "pboc_grid": cr.pboc_grid(view.pboc_codes),
        "missed_minimums": now["missed_minimums"],
        "overdue_fen": now["total_overdue_fen"],
        "owed_fen": now["owed_fen"],
        "delinquent_since": now["delinquent_since"],
        "charged_off_on": now["charged_off_on"],
    }


def metro2_row(month: Month, view: AccountView) -> dict[str, Any]:
    now = view.now
    return {
        **_common(month, now),
        "dpd": now["dpd"],
        "account_status": cr.metro2_status(view.state),
        "payment_history_profile": cr.metro2_profile(view.metro2_codes[:-1]),
        "current_balance_fen": now["owed_fen"],
        "overdue_fen": now["total_overdue_fen"],
        "amount_past_due_fen": cr.amount_past_due_fen(now["dpd"], now["total_overdue_fen"]),
        "first_delinquency_date": view.first_delinquency,
        "charged_off_on": now["charged_off_on"],
    }


def _first_delinquency(rows: list[dict[str, Any]]) -> date | None:
    """The date of first delinquency of the latest month that has one: a charged-off account
    paid in full keeps the date of the delinquency that led to its charge-off."""
    for row in reversed(rows):
        found = cr.first_delinquency_date(row["delinquent_since"], row["dpd"])
        if found is not None:
            return found
        if row["status"] in ("current", "in_grace"):
            return None  # cured since: a new delinquency would start a new date
    return None


def _pboc_notice(now: dict[str, Any], code: str, notices: Notices) -> dict[str, Any] | None:
    """The notices-file row of a negative CNY month without a notice on record (held back)."""
    if code not in cr.PBOC_NEGATIVE:
        return None
    since = now["delinquent_since"]
    assert since is not None, "a negative month lies in a delinquency"
    if notices.told_between(now["account_id"], since, now["as_of"]):
        return None
    return _notice(now, "pboc", "held_until_customer_told", now["as_of"])


def _fcra_notice(view: AccountView, status: str, notices: Notices) -> dict[str, Any] | None:
    """The notices-file row of a first negative US report without a notice on record."""
    now, previous = view.now, view.previous
    was_negative = previous.known and cr.metro2_status(previous) in cr.METRO2_NEGATIVE
    if status not in cr.METRO2_NEGATIVE or was_negative:
        return None
    since = now["delinquent_since"] or now["as_of"]
    if notices.told_between(now["account_id"], since, now["as_of"]):
        return None
    due_by = now["as_of"] + timedelta(days=FCRA_NOTICE_DAYS)
    return _notice(now, "metro2", "notice_due_within_30_days", due_by)


def _notice(now: dict[str, Any], bureau: str, action: str, due_by: date) -> dict[str, Any]:
    return {
        "account_id": now["account_id"],
        "customer_id": now["customer_id"],
        "bureau": bureau,
        "action": action,
        "dpd": now["dpd"],
        "delinquent_since": now["delinquent_since"],
        "notice_due_by": due_by,
    }


PBOC_SCHEMA = pa.schema(
    [("report_month", pa.string()), ("account_id", pa.string()), ("customer_id", pa.string()),
     ("product", pa.string()), ("as_of", pa.date32()), ("status", pa.string()),
     ("dpd", pa.int32()), ("pboc_code", pa.string()), ("pboc_grid", pa.string()),
     ("missed_minimums", pa.int64()), ("overdue_fen", pa.int64()), ("owed_fen", pa.int64()),
     ("delinquent_since", pa.date32()), ("charged_off_on", pa.date32())]
)  # fmt: skip
METRO2_SCHEMA = pa.schema(
    [("report_month", pa.string()), ("account_id", pa.string()), ("customer_id", pa.string()),
     ("product", pa.string()), ("as_of", pa.date32()), ("dpd", pa.int32()),
     ("account_status", pa.string()), ("payment_history_profile", pa.string()),
     ("current_balance_fen", pa.int64()), ("overdue_fen", pa.int64()),
     ("amount_past_due_fen", pa.int64()), ("first_delinquency_date", pa.date32()),
     ("charged_off_on", pa.date32())]
)  # fmt: skip
NOTICE_SCHEMA = pa.schema(
    [("account_id", pa.string()), ("customer_id", pa.string()), ("bureau", pa.string()),
     ("action", pa.string()), ("dpd", pa.int32()), ("delinquent_since", pa.date32()),
     ("notice_due_by", pa.date32())]
)  # fmt: skip


def write_extract(extract: Extract, out_dir: Path) -> dict[str, Path]:
    """Write the month's CSV files and ``bureau-YYYY-MM.json`` (counts) into ``out_dir``; each file
    appears whole or not at all (written aside, then renamed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    label = extract.month.label
    parts = {
        "pboc": (extract.pboc, PBOC_SCHEMA),
        "metro2": (extract.metro2, METRO2_SCHEMA),
        "notices": (extract.notices, NOTICE_SCHEMA),
    }
    written: dict[str, Path] = {}
    for name, (rows, schema) in parts.items():
        path = out_dir / f"{name}-{label}.csv"
        tmp = path.with_name(f".{path.name}.tmp")
        pacsv.write_csv(pa.Table.from_pylist(rows, schema=schema), tmp)
        os.replace(tmp, path)
        written[name] = path
    summary = extract_summary(extract)
    path = out_dir / f"bureau-{label}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    written["summary"] = path
    return written


def extract_summary(extract: Extract) -> dict[str, Any]:
    held = sum(1 for n in extract.notices if n["action"] == "held_until_customer_told")
    return {
        "report_month": extract.month.label,
        "as_of": extract.as_of.isoformat(),
        "pboc_accounts": len(extract.pboc),
        "pboc_negative": sum(1 for r in extract.pboc if r["pboc_code"] in cr.PBOC_NEGATIVE),
        "metro2_accounts": len(extract.metro2),
        "metro2_negative": sum(
            1 for r in extract.metro2 if r["account_status"] in cr.METRO2_NEGATIVE
        ),
        "held_until_customer_told": held,
        "fcra_notices_due": len(extract.notices) - held,
        "closed_earlier_not_reported": extract.skipped_closed,
    }

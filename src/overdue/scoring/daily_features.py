"""The daily run's feature rows on DuckDB: plain SQL, the snapshot read once, and state kept
beside each snapshot so that a day reads only what is new.

``features.feature_expr`` (Ibis) is the definition, and what training and Spark run; this module
gives the same raw columns (a test compares them column by column, on consecutive days, for all
accounts and for subsets) at a fraction of the cost:

- ``day_rows``: one pass over the account rows of the snapshot of ``as_of`` (with the item
  summary the batch wrote into them) and the previous snapshot gives, for **every** account,
  the base columns, the item aggregates and the flags that decide who needs a fresh score;
- history (month-end states of the last 12 months): the aggregate over the earlier months'
  month ends is the same for every day until a window edge passes a month end, so it is computed
  for all accounts once and kept as ``feature_state/history.parquet`` with a fingerprint (the
  month ends, their window membership and the identity of their folders); a day whose
  fingerprint matches its previous day's reuses it and adds only its own row;
- payments: a base state at some earlier day (``feature_state/payments_recent.arrow``: the
  payments not reversed, valued within the 3-month window; ``payments_last.arrow``: each
  account's latest payment date; ``payments_old.arrow``: its latest payment before the window)
  linked from the previous snapshot, and a delta (``payments_delta.arrow``,
  ``reversals_delta.arrow``: what was booked since the base) with the day's partitions
  appended; only the fresh accounts' rows are rolled to the day, so an ordinary day neither
  rolls nor rewrites the whole book's payments. The delta is folded into a new base once it
  holds ``COMPACT_SHARE`` of the base's recent rows. An account whose reversed payment was its
  latest one before the window is looked up in the history (the only case the state cannot
  answer), as is everything when there is no valid state;
- transitions (the last 12 months): a per-account aggregate kept as state (``transition_state``:
  the rows that stay inside each window for the next ``TRANSITION_SPAN_DAYS``, aggregated; the
  rows that may leave a window in that time, kept as rows; the snapshots after the state's day
  read as rows), built again once the span has passed; the SQL scan of every transition file
  (``_transitions_sql``) is the reference and the fallback;
- the day's event values (``EVENTS_STATE``): what the next day's fresh-score rule compares
  with, so that it reads one snapshot's account files, not two;
- accounts and the 3-month lag are read whole; the daily run (``raw_rows_at``) takes the fresh
  accounts' rows by position and aligns the other parts to them by merging sorted runs
  (``raw_rows``, one SQL query, is the reference).

State written for ``as_of`` reads only data booked on or before ``as_of`` (the point-in-time
rule of ``features``); a state whose fingerprint does not match the files it was derived from
(a book or snapshot rewritten since) is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from overdue.portfolio import contract
from overdue.portfolio.account_handoff import AccountHandoff
from overdue.portfolio.eod import (
    event_files,
    partition_dates,
    snapshot_files,
    snapshot_item_files,
    snapshot_path,
)
from overdue.scoring import daily_items, promises
from overdue.scoring.features import (
    HISTORY_DAYS,
    LAG_DAYS,
    LATE_BUCKETS_M3P,
    TRANSITIONS_SCHEMA,
    WINDOWS_DAYS,
    month_ends,
)

STATE_DIR = "feature_state"
FINGERPRINT_KEY = b"overdue.fingerprint"
RECENT_DAYS = WINDOWS_DAYS["3m"]
CHANGE_COLUMNS = daily_items.CHANGE_COLUMNS
STRING_CHANGE = daily_items.STRING_CHANGE
BASE_COLUMNS = daily_items.BASE_COLUMNS
ITEM_COLUMNS = daily_items.ITEM_COLUMNS
HISTORY_SCHEMA = pa.schema(
    [("account_id", pa.string())]
    + [(f"snap_worst_{w}", pa.int32()) for w in WINDOWS_DAYS]
    + [(f"months_{b}_12m", pa.int64()) for b in ("m1", "m2", "m3p")]
)
RECENT_SCHEMA = pa.schema([
    ("account_id", pa.string()), ("payment_id", pa.string()), ("value_date", pa.date32()),
    ("amount_fen", pa.int64()),
])  # fmt: skip
LAST_SCHEMA = pa.schema([("account_id", pa.string()), ("last_payment_date", pa.date32())])
# per account, its latest payment (not reversed) valued on or before the recent window's start
OLD_SCHEMA = pa.schema([("account_id", pa.string()), ("payment_id", pa.string()),
                       ("value_date", pa.date32())])  # fmt: skip


# -- small helpers -------------------------------------------------------------------------------


def _d(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def scan(files: Sequence[Path], schema: pa.Schema, columns: Sequence[str]) -> str:
    """A SQL relation of ``columns`` from Parquet ``files`` (typed and empty when there are
    none; columns a file lacks come out NULL)."""
    casts = ", ".join(f'CAST("{c}" AS {_sql_type(schema.field(c).type)}) AS "{c}"' for c in columns)
    if not files:
        nulls = ", ".join(
            f'CAST(NULL AS {_sql_type(schema.field(c).type)}) AS "{c}"' for c in columns
        )
        return f"(SELECT {nulls} WHERE false)"
    listed = ", ".join(_quote(f) for f in files)
    return f"(SELECT {casts} FROM read_parquet([{listed}], union_by_name = true))"


def _sql_type(kind: pa.DataType) -> str:
    types = {pa.string(): "VARCHAR", pa.date32(): "DATE", pa.int64(): "BIGINT",
             pa.int32(): "INTEGER", pa.bool_(): "BOOLEAN", pa.float64(): "DOUBLE"}  # fmt: skip
    assert kind in types, kind
    return types[kind]


def _fingerprint(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _identity(path: Path) -> list[int]:
    """What changes when a folder is written again (renamed into place: a new inode)."""
    st = os.stat(path)
    return [st.st_ino, st.st_mtime_ns]


def _file_identity(path: Path) -> list[Any]:
    """A file's name, ``_identity`` and size: what a fingerprint of derived state names."""
    st = os.stat(path)
    return [path.name, st.st_ino, st.st_mtime_ns, st.st_size]


def _read_state(folder: Path, name: str, fingerprint: str) -> pa.Table | None:
    """A state table kept beside the snapshot in ``folder`` (an Arrow IPC file: no encoding
    to undo), or None when absent or derived from other files than ``fingerprint`` says."""
    file = folder / STATE_DIR / name
    if not file.is_file():
        return None
    with pa.memory_map(str(file)) as source:
        table = pa.ipc.open_file(source).read_all()
    if (table.schema.metadata or {}).get(FINGERPRINT_KEY) != fingerprint.encode():
        return None
    return table.replace_schema_metadata(None)


def _write_state(folder: Path, name: str, table: pa.Table, fingerprint: str) -> None:
    out = folder / STATE_DIR
    out.mkdir(exist_ok=True)
    tmp = out / f".{name}.tmp-{os.getpid()}"
    # one record batch: the readers' columns (memory-mapped) are then single arrays, which
    # they use without copying a million rows into fresh memory (``combine_chunks``)
    table = table.combine_chunks().replace_schema_metadata({FINGERPRINT_KEY: fingerprint.encode()})
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, out / name)


class StateWrites:
    """State files written on one worker thread while the daily scoring goes on (at most
    ``MAX_PENDING`` in flight); leaving the ``with`` block waits for them and raises the first
    failure (each file appears whole or not at all: ``_write_state``)."""

    MAX_PENDING = 8

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="overdue-state")
        self._pending: list[Future[None]] = []

    def write(self, folder: Path, name: str, table: pa.Table, fingerprint: str) -> None:
        assert len(self._pending) < self.MAX_PENDING, "too many state writes in flight"
        self._pending.append(self._pool.submit(_write_state, folder, name, table, fingerprint))

    def wait(self) -> None:
        """Every write submitted so far finished; the first failure raised."""
        done, self._pending = self._pending, []
        failures = [error for error in (f.exception() for f in done) if error is not None]
        if failures:
            raise failures[0]

    def __enter__(self) -> StateWrites:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)


def prune_state(snapshot_dir: Path, days: Sequence[date], keep_from: date) -> int:
    """Remove the kept state of the snapshots before ``keep_from`` (a day reads only its
    previous snapshot's state; the state of a day rescored later is rebuilt). How many."""
    removed = 0
    for day in days:
        folder = snapshot_path(snapshot_dir, day) / STATE_DIR
        if day < keep_from and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _link_state(there: Path, here: Path, name: str, table: pa.Table, fingerprint: str) -> None:
    """The state file ``name`` of ``there`` also as ``here``'s (a hard link: the content is
    the same), written when the file system refuses the link."""
    out = here / STATE_DIR
    out.mkdir(exist_ok=True)
    source, target = there / STATE_DIR / name, out / name
    if target.is_file() and os.path.samefile(source, target):
        return  # already linked (the day scored again)
    tmp = out / f".{name}.tmp-{os.getpid()}"
    try:
        tmp.unlink(missing_ok=True)
        os.link(source, tmp)
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)
        _write_state(here, name, table, fingerprint)


# -- the day's rows: base columns, item aggregates, the flags for the fresh-score rule ---------


def day_rows(
    con: Any, snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int
) -> pa.Table:
    """Every account of the snapshot of ``as_of``: ``BASE_COLUMNS``, ``ITEM_COLUMNS`` and
    ``due_soon``, ``new_delinquent``, ``changed`` (against ``previous``), in no set order:
    ``daily_items.day_rows`` (the account rows' item summary), or this SQL over the item rows
    when the snapshot has no summary (format 2)."""
    return day_rows_and_source(con, snapshot_dir, as_of, previous, warning_days)[0]


def day_rows_and_source(
    con: Any, snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int
) -> tuple[pa.Table, str]:
    """``day_rows`` and where its item columns came from: "summary" (the account rows) or
    "items" (the item rows, by SQL)."""
    rows, source, _at = day_rows_for_scoring(con, snapshot_dir, as_of, previous, warning_days)
    return rows, source


def day_rows_for_scoring(
    con: Any, snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int,
    *, lean: bool = False, writes: StateWrites | None = None,
    handoff: AccountHandoff | None = None,
) -> tuple[pa.Table, str, np.ndarray | None]:  # fmt: skip
    """``day_rows_and_source`` and, from the account rows, each row's position among the
    previous snapshot's (``daily_items.day_rows_aligned``; None from the SQL form).
    ``lean``: the account rows' form of ``daily_items.day_rows_with_events(..., lean=True)``
    (``raw_rows_at`` takes either form). ``writes``: the day's event values are written
    there (in the background) instead of before returning. ``handoff``: the account rows the
    batch of this process wrote (``daily_items.day_rows_with_events``)."""
    kept = None
    if previous is not None:
        kept = _read_state(snapshot_path(snapshot_dir, previous), EVENTS_STATE,
                           _events_fingerprint(snapshot_dir, previous))  # fmt: skip
        if kept is not None and not kept.schema.equals(daily_items.EVENT_SCHEMA):
            kept = None
    try:
        rows, at, events = daily_items.day_rows_with_events(
            snapshot_dir, as_of, previous, warning_days, kept, lean=lean, handoff=handoff
        )
    except daily_items.NoSummary:
        return day_rows_sql(con, snapshot_dir, as_of, previous, warning_days), "items", None
    write = _write_state if writes is None else writes.write
    write(snapshot_path(snapshot_dir, as_of), EVENTS_STATE, events,
          _events_fingerprint(snapshot_dir, as_of))  # fmt: skip
    return rows, "summary", at


EVENTS_STATE = "events.arrow"  # the day's event values, in its account rows' order


def _events_fingerprint(snapshot_dir: Path, day: date) -> str:
    """The identity of the snapshot's account files (a snapshot written again has new ones;
    not its folder's, whose time changes when the state is written into it)."""
    files = [_file_identity(file) for file in snapshot_files(snapshot_dir, day)]
    return _fingerprint(["events/1", day.isoformat(), files])


def day_rows_sql(
    con: Any, snapshot_dir: Path, as_of: date, previous: date | None, warning_days: int
) -> pa.Table:
    """``day_rows`` in DuckDB SQL (the form that handles nulls in every column)."""
    from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA, ITEM_ROW_SCHEMA

    accounts = scan(snapshot_files(snapshot_dir, as_of), ACCOUNT_STATE_SCHEMA,
                    [*BASE_COLUMNS, "waived_total_fen"])  # fmt: skip
    item_columns = ["account_id", "due_date", "principal_fen", "interest_fen", "fee_fen",
                    "minimum_fen", "paid_fen", "unpaid_principal_fen", "unpaid_interest_fen",
                    "unpaid_fee_fen", "penalty_days"]  # fmt: skip
    items = scan(snapshot_item_files(snapshot_dir, as_of), ITEM_ROW_SCHEMA, item_columns)
    d = _d(as_of)
    windows = []
    for name, days in WINDOWS_DAYS.items():
        inside = f"due_date < {d} AND due_date >= {_d(as_of - timedelta(days=days))}"
        windows.append(f"CAST(SUM(CASE WHEN {inside} THEN late_days ELSE 0 END) AS BIGINT) "
                       f"AS days_late_{name}")  # fmt: skip
        if name == "3m":
            windows.append(f"CAST(SUM(CASE WHEN {inside} THEN required ELSE 0 END) AS BIGINT) "
                           "AS due_3m_fen")  # fmt: skip
            windows.append(f"CAST(SUM(CASE WHEN {inside} THEN paid ELSE 0 END) AS BIGINT) "
                           "AS paid_3m_items_fen")  # fmt: skip
    soon = _d(as_of + timedelta(days=warning_days))
    if previous is None:
        prev_join, changed = "", "true"
        new_delinquent = "a.delinquent_since IS NOT NULL"
    else:
        prev = scan(snapshot_files(snapshot_dir, previous), ACCOUNT_STATE_SCHEMA,
                    ["account_id", *CHANGE_COLUMNS])  # fmt: skip
        prev_join = f"LEFT JOIN {prev} p ON a.account_id = p.account_id"
        tests = ["p.account_id IS NULL"]
        for c in STRING_CHANGE:
            tests.append(f"COALESCE(a.{c}, '') != COALESCE(p.{c}, '')")
        for c in daily_items.EVENT_NUMBERS:
            tests.append(f"COALESCE(a.{c}, -1) != COALESCE(p.{c}, -1)")
        tests.append("COALESCE(a.total_overdue_fen - a.penalty_accrued_fen, -1) "
                     "!= COALESCE(p.total_overdue_fen - p.penalty_accrued_fen, -1)")  # fmt: skip
        changed = " OR ".join(tests)
        new_delinquent = f"a.delinquent_since IS NOT NULL AND a.delinquent_since > {_d(previous)}"
    # items grouped by (account, due date) first: every item condition depends on the due date
    # only, and the next due date's amount is the sum of its own group (one scan, no join back)
    sql = f"""
    WITH by_date AS (
        SELECT account_id, due_date,
            SUM(principal_fen + interest_fen + fee_fen) AS required,
            SUM(paid_fen) AS paid,
            SUM(unpaid_principal_fen + unpaid_interest_fen + unpaid_fee_fen) AS unpaid,
            SUM(CAST(penalty_days AS BIGINT)) AS late_days,
            COUNT(*) AS n_items,
            SUM(CAST(penalty_days > 0 AS BIGINT)) AS n_late,
            BOOL_OR(unpaid_principal_fen + unpaid_interest_fen + unpaid_fee_fen > 0)
                AS any_unpaid,
            SUM(GREATEST(COALESCE(minimum_fen, principal_fen + interest_fen + fee_fen)
                - paid_fen, 0)) AS ask
        FROM {items} GROUP BY account_id, due_date
    ), agg AS (
        SELECT account_id,
            CAST(SUM(CASE WHEN due_date < {d} THEN n_items ELSE 0 END) AS BIGINT)
                AS n_items_past,
            CAST(SUM(CASE WHEN due_date < {d} THEN n_late ELSE 0 END) AS BIGINT)
                AS n_items_late,
            CAST(SUM(CASE WHEN due_date < {d} THEN required ELSE 0 END) AS BIGINT)
                AS due_past_fen,
            CAST(SUM(CASE WHEN due_date < {d} THEN paid ELSE 0 END) AS BIGINT) AS paid_past_fen,
            CAST(SUM(unpaid) AS BIGINT) AS outstanding_fen,
            MIN(CASE WHEN due_date > {d} AND any_unpaid THEN due_date END) AS next_due_date,
            {", ".join(windows)},
            CAST(ARG_MIN(ask, CASE WHEN due_date > {d} AND any_unpaid THEN due_date END)
                AS BIGINT) AS next_due_amount_fen
        FROM by_date GROUP BY account_id
    )
    SELECT {", ".join(f"a.{c}" for c in BASE_COLUMNS)},
        {", ".join(f"agg.{c}" for c in ITEM_COLUMNS)},
        COALESCE(agg.next_due_date IS NOT NULL AND agg.next_due_date <= {soon}, false)
            AS due_soon,
        COALESCE({new_delinquent}, false) AS new_delinquent,
        COALESCE({changed}, false) AS changed
    FROM {accounts} a
    LEFT JOIN agg ON a.account_id = agg.account_id
    {prev_join}
    ORDER BY a.account_id
    """
    return con.sql(sql).to_arrow_table()


def _with_promises(out: pa.Table, rows: pa.Table | None, table_present: bool) -> pa.Table:
    """``out`` with the promise part's columns (``promises.promise_part``'s rows for the same
    accounts, run by the caller; nulls without a promises table) and its presence flag."""
    if rows is None:
        assert not table_present, "the book has promises: give their rows"
        for name, column in promises.absent_arrow(out.num_rows).items():
            out = out.append_column(name, column)
    else:
        out = out.join(rows, keys="account_id", right_keys=promises.KEY, join_type="left outer")
        out = out.sort_by("account_id")
    return out.append_column(promises.PRESENT, pa.array([table_present] * out.num_rows))


# -- history: the month-end states of the last 12 months ---------------------------------------


def _history_plan(snapshot_dir: Path, days: Sequence[date], as_of: date) -> tuple[list[date], str]:
    """The earlier months' month ends the history reads and the fingerprint of their part."""
    since = as_of - timedelta(days=HISTORY_DAYS)
    earlier = [d for d in month_ends(days, as_of) if since < d < as_of]
    parts = []
    for d in earlier:
        inside = [d > as_of - timedelta(days=w) for w in WINDOWS_DAYS.values()]
        parts.append([d.isoformat(), *inside, _identity(snapshot_path(snapshot_dir, d))])
    return earlier, _fingerprint(["history/1", parts])


def _history_of_month_ends(
    con: Any, snapshot_dir: Path, earlier: list[date], as_of: date
) -> pa.Table:
    from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA

    files = [f for d in earlier for f in snapshot_files(snapshot_dir, d)]
    h = scan(files, ACCOUNT_STATE_SCHEMA, ["account_id", "as_of", "dpd", "bucket_cn"])
    worst = ", ".join(
        f"MAX(CASE WHEN as_of > {_d(as_of - timedelta(days=w))} THEN dpd END) AS snap_worst_{n}"
        for n, w in WINDOWS_DAYS.items()
    )
    late = ", ".join(f"'{b}'" for b in LATE_BUCKETS_M3P)
    sql = f"""
    SELECT account_id, {worst},
        CAST(SUM(CAST(bucket_cn = 'M1' AS BIGINT)) AS BIGINT) AS months_m1_12m,
        CAST(SUM(CAST(bucket_cn = 'M2' AS BIGINT)) AS BIGINT) AS months_m2_12m,
        CAST(SUM(CAST(bucket_cn IN ({late}) AS BIGINT)) AS BIGINT) AS months_m3p_12m
    FROM {h} WHERE as_of <= {_d(as_of)} AND as_of > {_d(as_of - timedelta(days=HISTORY_DAYS))}
    GROUP BY account_id ORDER BY account_id
    """
    return con.sql(sql).to_arrow_table().cast(HISTORY_SCHEMA)


def history_of_earlier_months(
    con: Any, snapshot_dir: Path, days: Sequence[date], as_of: date, previous: date | None
) -> tuple[pa.Table, bool]:
    """(per account: the history aggregate over the earlier months' month ends, reused?):
    taken from the previous snapshot's state when its fingerprint matches, else computed.
    Written into the state of ``as_of`` either way."""
    earlier, fingerprint = _history_plan(snapshot_dir, days, as_of)
    here = snapshot_path(snapshot_dir, as_of)
    table = None
    if previous is not None:
        table = _read_state(snapshot_path(snapshot_dir, previous), "history.arrow", fingerprint)
    reused = table is not None
    if table is None:
        table = _history_of_month_ends(con, snapshot_dir, earlier, as_of)
        _write_state(here, "history.arrow", table, fingerprint)
    else:  # the same file (same fingerprint): linked, not written again
        assert previous is not None
        _link_state(snapshot_path(snapshot_dir, previous), here, "history.arrow", table,
                    fingerprint)  # fmt: skip
    return table, reused


# -- payments: a base state and the events booked since, kept beside each snapshot -------------
#
# The state is a *base* (``BASE_FILES``: the recent payments, each account's latest payment date
# and its latest payment before the recent window, at some earlier day B) and a *delta*
# (``DELTA_FILES``: the payments and reversals booked after B). A day links the base files of
# its previous snapshot (hard links: nothing rewritten) and writes the delta with its own
# partitions appended (a few days of payments); the fresh accounts' payment rows are the base
# and the delta of those accounts rolled to the day (``_roll_tables``: every step is per
# account). When the delta grows past ``COMPACT_SHARE`` of the base's recent rows, the whole
# book is rolled once and written as a new base (an empty delta).

BASE_FILES = ("payments_recent.arrow", "payments_last.arrow", "payments_old.arrow")
DELTA_FILES = ("payments_delta.arrow", "reversals_delta.arrow")
REV_SCHEMA = pa.schema([("payment_id", pa.string()), ("account_id", pa.string())])
COMPACT_SHARE = 0.25  # delta rows (payments and reversals) over the base's recent rows


def _book_fingerprints(book_dir: Path, days: Sequence[date]) -> list[str]:
    """The payments state's fingerprint for each of ``days``: the partitions of payments and
    reversals booked up to that day and the identity of their folders (one listing)."""
    found = []
    for table in ("payments", "reversals"):
        for day, folder in sorted(partition_dates(book_dir / table).items()):
            if day <= max(days):
                found.append((day, [table, day.isoformat(), _identity(folder)]))
    return [_fingerprint(["payments/1", [part for d, part in found if d <= last]]) for last in days]


def _delta_fingerprint(book: str, base: str) -> str:
    """The delta's: the book's fingerprint at its day and its base's (the base was checked
    against the book when the delta was written; the same book now means the same base)."""
    return _fingerprint(["payments-delta/1", book, base])


def _payment_scans(book_dir: Path, first: date | None, last: date) -> tuple[str, str]:
    pay = scan(event_files(book_dir, "payments", first, last),
               contract.TABLES["payments"].arrow_schema(),
               ["payment_id", "account_id", "value_date", "amount_fen"])  # fmt: skip
    rev = scan(event_files(book_dir, "reversals", first, last),
               contract.TABLES["reversals"].arrow_schema(), ["payment_id", "account_id"])  # fmt: skip
    return pay, rev


def _payments_from_history(
    con: Any, book_dir: Path, as_of: date, only: pa.Table | None = None
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(recent, last, old) from every partition booked on or before ``as_of``."""
    pay, rev = _payment_scans(book_dir, None, as_of)
    keep = ""
    if only is not None:
        con.register("_only_pay", only)
        keep = "AND p.account_id IN (SELECT account_id FROM _only_pay)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _kept_pay AS
        SELECT p.* FROM {pay} p ANTI JOIN {rev} r ON p.payment_id = r.payment_id
        WHERE p.value_date <= {_d(as_of)} {keep}
    """)  # fmt: skip
    return _recent_and_last(con, "_kept_pay", as_of)


def _recent_and_last(con: Any, kept: str, as_of: date) -> tuple[pa.Table, pa.Table, pa.Table]:
    cut = _d(as_of - timedelta(days=RECENT_DAYS))
    recent = con.sql(
        f"SELECT account_id, payment_id, value_date, amount_fen FROM {kept} "
        f"WHERE value_date > {cut} ORDER BY account_id, value_date, payment_id"
    ).to_arrow_table()
    last = con.sql(
        f"SELECT account_id, MAX(value_date) AS last_payment_date FROM {kept} "
        "GROUP BY account_id ORDER BY account_id"
    ).to_arrow_table()
    old = con.sql(
        "SELECT account_id, ARG_MAX(payment_id, value_date) AS payment_id, "
        f"MAX(value_date) AS value_date FROM {kept} WHERE value_date <= {cut} "
        "GROUP BY account_id ORDER BY account_id"
    ).to_arrow_table()
    return recent.cast(RECENT_SCHEMA), last.cast(LAST_SCHEMA), old.cast(OLD_SCHEMA)


def _read_fingerprinted(folder: Path, name: str) -> tuple[pa.Table, str] | None:
    """A state table and the fingerprint it was written with (None: absent or unmarked)."""
    file = folder / STATE_DIR / name
    if not file.is_file():
        return None
    with pa.memory_map(str(file)) as source:
        table = pa.ipc.open_file(source).read_all()
    mark = (table.schema.metadata or {}).get(FINGERPRINT_KEY)
    if mark is None:
        return None
    return table.replace_schema_metadata(None), mark.decode()


def _kept_payments(
    there: Path, before: str
) -> tuple[tuple[pa.Table, pa.Table, pa.Table], str, pa.Table, pa.Table] | None:
    """The payment state of the snapshot folder ``there`` (base tables, the base's
    fingerprint, delta payments, delta reversals), or None when it does not match the book
    (``before``: the book's fingerprint at that snapshot's day). A state written without a
    delta (an older format) is a base with an empty delta when its base matches the book."""
    found = [_read_fingerprinted(there, name) for name in BASE_FILES]
    if any(f is None for f in found):
        return None
    marks = {f[1] for f in found if f is not None}
    if len(marks) != 1:
        return None
    base_mark = marks.pop()
    recent, last, old = (f[0] for f in found if f is not None)
    pay, rev = (_read_fingerprinted(there, name) for name in DELTA_FILES)
    if pay is None and rev is None and base_mark == before:
        return (recent, last, old), base_mark, RECENT_SCHEMA.empty_table(), REV_SCHEMA.empty_table()
    wanted = _delta_fingerprint(before, base_mark)
    if pay is None or rev is None or pay[1] != wanted or rev[1] != wanted:
        return None
    return (recent, last, old), base_mark, pay[0], rev[0]


def _booked(book_dir: Path, previous: date, as_of: date) -> tuple[pa.Table, pa.Table]:
    """The payments (``RECENT_SCHEMA``) and reversals (``REV_SCHEMA``) booked in
    (``previous``, ``as_of``]."""
    pay = daily_items.read(event_files(book_dir, "payments", previous, as_of),
                           contract.TABLES["payments"].arrow_schema(), RECENT_SCHEMA.names)  # fmt: skip
    rev = daily_items.read(event_files(book_dir, "reversals", previous, as_of),
                           contract.TABLES["reversals"].arrow_schema(), REV_SCHEMA.names)  # fmt: skip
    return pay.cast(RECENT_SCHEMA), rev.cast(REV_SCHEMA)


def payment_state(
    con: Any, book_dir: Path, snapshot_dir: Path, as_of: date, previous: date | None,
    only: pa.Table | None = None,
) -> tuple[pa.Table, pa.Table, bool]:  # fmt: skip
    """(recent, last, rolled?) at ``as_of`` for the accounts of ``only`` (``account_id``; None:
    every account): from the state of ``previous`` and the partitions booked since when it
    matches the book, else from the whole history. The state of ``as_of`` is written either
    way (see the section's comment: a base linked and a small delta, or a new base)."""
    recent, last, _old, rolled = payment_tables(con, book_dir, snapshot_dir, as_of, previous, only)
    return recent, last, rolled


def payment_tables(
    con: Any, book_dir: Path, snapshot_dir: Path, as_of: date, previous: date | None,
    only: pa.Table | None = None,
) -> tuple[pa.Table, pa.Table, pa.Table, bool]:  # fmt: skip
    """``payment_state`` with the old table (each account's latest payment valued before
    the recent window) before the rolled flag."""
    here = snapshot_path(snapshot_dir, as_of)
    fingerprint, before = _book_fingerprints(book_dir, [as_of, previous or as_of])
    kept = None
    if previous is not None:
        kept = _kept_payments(snapshot_path(snapshot_dir, previous), before)
    if kept is None or previous is None:
        recent, last, old = _payments_from_history(con, book_dir, as_of)
        _write_payment_base(here, (recent, last, old), fingerprint)
        return _of_accounts(recent, only), _of_accounts(last, only), _of_accounts(old, only), False
    base, base_mark, pay, rev = kept
    new_pay, new_rev = _booked(book_dir, previous, as_of)
    pay = pa.concat_tables([pay, new_pay]).combine_chunks()
    rev = pa.concat_tables([rev, new_rev]).combine_chunks()
    if pay.num_rows + rev.num_rows >= COMPACT_SHARE * max(base[0].num_rows, 1):
        recent, last, old = _roll_tables(con, book_dir, *base, pay, rev, as_of)
        # sorted by account (as the base built from the history is): the next days take the
        # fresh accounts' rows by merging sorted runs (``_of_accounts``), not by a hash
        recent, last, old = (t.sort_by("account_id") for t in (recent, last, old))
        _write_payment_base(here, (recent, last, old), fingerprint)
        return _of_accounts(recent, only), _of_accounts(last, only), _of_accounts(old, only), True
    there = snapshot_path(snapshot_dir, previous)
    for name, table in zip(BASE_FILES, base, strict=True):
        _link_state(there, here, name, table, base_mark)
    index = _base_index(there, base, base_mark)
    if index is not None:
        for name, table in zip(INDEX_FILES, index, strict=True):
            _link_state(there, here, name, table, base_mark)
    for name, table in zip(DELTA_FILES, (pay, rev), strict=True):
        _write_state(here, name, table, _delta_fingerprint(fingerprint, base_mark))
    recent, last, old = _base_of_accounts(base, index, only)
    recent, last, old = _roll_tables(con, book_dir, recent, last, old, _of_accounts(pay, only),
                                     rev, as_of)  # fmt: skip
    return recent, last, old, True


def _write_payment_base(
    here: Path, tables: tuple[pa.Table, pa.Table, pa.Table], fingerprint: str
) -> None:
    for name, table in zip(BASE_FILES, tables, strict=True):
        _write_state(here, name, table, fingerprint)
    recent, last, old = tables
    ids = last["account_id"].combine_chunks()
    index = [daily_items.positions_in(t["account_id"].combine_chunks(), ids) for t in (recent, old)]
    for name, at in zip(INDEX_FILES, index, strict=True):  # every row's account is in ``last``
        if (at < 0).any():
            (here / STATE_DIR / name).unlink(missing_ok=True)
        else:
            _write_state(here, name, pa.table({"at": pa.array(at, pa.int32())}), fingerprint)
    for name in DELTA_FILES:  # a base of this day: no delta
        (here / STATE_DIR / name).unlink(missing_ok=True)


# the base's recent and old rows: each row's account's position in ``payments_last`` (written
# with the base), so that the fresh accounts' rows of the base are a gather, not a merge
INDEX_FILES = ("payments_recent_at.arrow", "payments_old_at.arrow")


def _base_index(
    there: Path, base: tuple[pa.Table, pa.Table, pa.Table], base_mark: str
) -> tuple[pa.Table, pa.Table] | None:
    """The base's index files of the snapshot folder ``there`` when they belong to its base
    (same fingerprint, one position per row), else None (then ``_of_accounts`` merges)."""
    found = [_read_state(there, name, base_mark) for name in INDEX_FILES]
    recent, _last, old = base
    if found[0] is None or found[1] is None:
        return None
    if found[0].num_rows != recent.num_rows or found[1].num_rows != old.num_rows:
        return None
    return found[0], found[1]


def _base_of_accounts(
    base: tuple[pa.Table, pa.Table, pa.Table], index: tuple[pa.Table, pa.Table] | None,
    only: pa.Table | None,
) -> tuple[pa.Table, pa.Table, pa.Table]:  # fmt: skip
    """``_of_accounts`` of each base table: with the index, one merge (``only`` into
    ``payments_last``) and a gather for the recent and old rows; without, three merges."""
    recent, last, old = base
    if index is None or only is None:
        return _of_accounts(recent, only), _of_accounts(last, only), _of_accounts(old, only)
    at = daily_items.positions_in(last["account_id"].combine_chunks(),
                                  only["account_id"].combine_chunks())  # fmt: skip
    mine = at >= 0
    out = [last.filter(pa.array(mine)).combine_chunks()]
    for table, rows in ((recent, index[0]), (old, index[1])):
        owner = np.asarray(rows["at"].to_numpy(), np.int64)
        out.append(table.filter(pa.array(mine[owner])).combine_chunks())
    return out[1], out[0], out[2]


def _of_accounts(table: pa.Table, only: pa.Table | None) -> pa.Table:
    """The rows of ``table`` whose ``account_id`` is in ``only`` (all rows when None), in
    their order: by merging sorted runs (``daily_items.positions_in``: the state's tables are
    sorted by account, the fresh ids too), a hash only when either side is in many runs."""
    if only is None:
        return table
    ids = only["account_id"].combine_chunks()
    at = daily_items.positions_in(table["account_id"].combine_chunks(), ids)
    return table.filter(pa.array(at >= 0)).combine_chunks()


def _roll_tables(
    con: Any, book_dir: Path, recent: pa.Table, last: pa.Table, old: pa.Table, pay: pa.Table,
    rev: pa.Table, as_of: date,
) -> tuple[pa.Table, pa.Table, pa.Table]:  # fmt: skip
    """(recent, last, old) at ``as_of`` from those of an earlier day and the payments ``pay``
    and reversals ``rev`` booked since. Each account's rows depend only on its own rows (a
    reversal names its payment's account), so the rows of some accounts roll to theirs."""
    pay = pay.filter(pc.less_equal(pay["value_date"], pa.scalar(as_of, pa.date32())))
    gone = rev["payment_id"].combine_chunks()
    rows = pa.concat_tables([recent, pay.cast(RECENT_SCHEMA)])
    rows = rows.filter(pc.invert(pc.is_in(rows["payment_id"], value_set=gone)))
    cut = pa.scalar(as_of - timedelta(days=RECENT_DAYS), pa.date32())
    new_recent = rows.filter(pc.greater(rows["value_date"], cut)).combine_chunks()
    new_old = _roll_old(con, book_dir, old, rows.filter(pc.less_equal(rows["value_date"], cut)),
                        gone, as_of)  # fmt: skip
    # accounts with a new reversal: their latest payment is the later of their latest recent
    # one and their latest older one (every kept payment is in one of the two); the others
    # keep the later of their old latest date and their new payments' dates
    touched = pc.unique(rev["account_id"].combine_chunks())
    hit = pc.is_in(new_recent["account_id"], value_set=touched)
    older = new_old.filter(pc.is_in(new_old["account_id"], value_set=touched))
    news = pa.concat_tables([
        pay.filter(pc.invert(pc.is_in(pay["payment_id"], value_set=gone)))
        .select(["account_id", "value_date"]).rename_columns(LAST_SCHEMA.names)
        .cast(LAST_SCHEMA),
        new_recent.filter(hit).select(["account_id", "value_date"])
        .rename_columns(LAST_SCHEMA.names).cast(LAST_SCHEMA),
        older.select(["account_id", "value_date"]).rename_columns(LAST_SCHEMA.names)
        .cast(LAST_SCHEMA),
    ])  # fmt: skip
    news = news.group_by("account_id").aggregate([("last_payment_date", "max")])
    news = news.rename_columns(LAST_SCHEMA.names).cast(LAST_SCHEMA)
    kept = last.filter(pc.invert(pc.is_in(last["account_id"], value_set=touched)))
    return new_recent, _later_dates(kept.combine_chunks(), news.combine_chunks()), new_old


def _roll_old(
    con: Any, book_dir: Path, old: pa.Table, leaving: pa.Table, gone: pa.Array, as_of: date
) -> pa.Table:
    """``payments_old`` at ``as_of``: the previous rows less the reversed ones, with the
    payments that left the recent window (or were booked valued before it); an account whose
    kept older payment was reversed is looked up in the history (rare: a reversal of a payment
    older than the recent window)."""
    reversed_old = pc.is_in(old["account_id"], value_set=old["account_id"].filter(
        pc.is_in(old["payment_id"], value_set=gone)))  # fmt: skip
    unknown = old["account_id"].filter(reversed_old)
    rows = [old.filter(pc.invert(reversed_old)),
            leaving.select(OLD_SCHEMA.names).cast(OLD_SCHEMA)]  # fmt: skip
    if len(unknown):
        cut = as_of - timedelta(days=RECENT_DAYS)
        lookup = pa.table({"account_id": unknown})
        rows.append(_latest_payments(con, book_dir, as_of, lookup, valued_by=cut))
    base, news = rows[0].combine_chunks(), pa.concat_tables(rows[1:]).combine_chunks()
    if not news.num_rows:
        return base
    if not base.num_rows:
        base = OLD_SCHEMA.empty_table()
    news = news.sort_by([("account_id", "ascending"), ("value_date", "descending"),
                         ("payment_id", "ascending")])  # fmt: skip
    ids = news["account_id"]
    first = np.ones(news.num_rows, dtype=bool)
    first[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    news = news.filter(pa.array(first))  # each account's latest
    position = pc.index_in(news["account_id"], value_set=base["account_id"])
    found = position.is_valid().to_numpy(zero_copy_only=False)
    at = np.asarray(position.fill_null(0).to_numpy(zero_copy_only=False))
    days = np.asarray(pc.cast(base["value_date"], pa.int32()).to_numpy(), np.int64)
    days = days if len(days) else np.zeros(1, np.int64)  # no base row: every news row is new
    new_days = np.asarray(pc.cast(news["value_date"], pa.int32()).to_numpy(), np.int64)
    later = found & (new_days > days[at])
    replaced = np.zeros(base.num_rows, dtype=bool)
    replaced[at[later]] = True
    return pa.concat_tables([base.filter(pa.array(~replaced)),
                             news.filter(pa.array(later | ~found))])  # fmt: skip


LOOKBACK_PARTITIONS = 31  # partitions read per step when looking for older payments


def _latest_payments(
    con: Any, book_dir: Path, as_of: date, lost: pa.Table, valued_by: date
) -> pa.Table:
    """``OLD_SCHEMA``: the latest payment booked by ``as_of``, valued by ``valued_by`` and not
    reversed by ``as_of`` of each account in ``lost`` (none: no row), reading the payment
    partitions newest first and stopping once no older partition can hold a later one (a
    payment's value date is never after its booking date)."""
    rev = scan(event_files(book_dir, "reversals", None, as_of),
               contract.TABLES["reversals"].arrow_schema(), ["payment_id", "account_id"])  # fmt: skip
    con.register("_lost_ids", lost)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _lost_rev AS SELECT payment_id FROM {rev} "
                "WHERE account_id IN (SELECT account_id FROM _lost_ids)")  # fmt: skip
    folders = partition_dates(book_dir / "payments")
    days = sorted((d for d in folders if d <= as_of), reverse=True)
    best: dict[str, tuple[date, str]] = {}
    spec = contract.TABLES["payments"].arrow_schema()
    for start in range(0, len(days), LOOKBACK_PARTITIONS):
        step = days[start : start + LOOKBACK_PARTITIONS]
        files = [f for d in step for f in sorted(folders[d].glob("*.parquet"))]
        pay = scan(files, spec, ["payment_id", "account_id", "value_date"])
        found = con.sql(f"""
            SELECT p.account_id, MAX(p.value_date), ARG_MAX(p.payment_id, p.value_date)
            FROM {pay} p ANTI JOIN _lost_rev r ON p.payment_id = r.payment_id
            WHERE p.account_id IN (SELECT account_id FROM _lost_ids)
              AND p.value_date <= {_d(valued_by)}
            GROUP BY p.account_id
        """).fetchall()  # fmt: skip
        for account_id, day, payment_id in found:
            best[account_id] = max((day, payment_id), best.get(account_id, (day, payment_id)))
        oldest = step[-1]  # older partitions hold value dates before ``oldest``
        done = min((d for d, _ in best.values()), default=oldest) >= oldest - timedelta(days=1)
        if len(best) == lost.num_rows and done:
            break
    ids = sorted(best)
    return pa.table({"account_id": pa.array(ids, pa.string()),
                     "payment_id": pa.array([best[i][1] for i in ids], pa.string()),
                     "value_date": pa.array([best[i][0] for i in ids], pa.date32())})  # fmt: skip


def _later_dates(last: pa.Table, news: pa.Table) -> pa.Table:
    """``last`` with each account of ``news`` (few rows) set to the later of both dates."""
    position = pc.index_in(news["account_id"], value_set=last["account_id"])
    found = position.is_valid().to_numpy(zero_copy_only=False)
    dates = last["last_payment_date"].to_numpy(zero_copy_only=False).copy()
    at = position.fill_null(0).to_numpy(zero_copy_only=False)[found]
    fresh = news["last_payment_date"].to_numpy(zero_copy_only=False)
    dates[at] = np.maximum(dates[at], fresh[found])
    updated = pa.table({"account_id": last["account_id"],
                        "last_payment_date": pa.array(dates, pa.date32())})  # fmt: skip
    return pa.concat_tables([updated, news.filter(pa.array(~found))]).cast(LAST_SCHEMA)


# -- the fresh accounts' raw feature rows --------------------------------------------------------


def _transitions_sql(snapshot_dir: Path, days: Sequence[date], as_of: date, fresh: str) -> str:
    """Per account of the registered table ``fresh`` (``account_id``), its bucket transitions
    of the last 12 months (distinct rows: a replayed day may repeat them): M1 entries, cures
    and the worst DPD reached in each window (a small scan restricted to those accounts)."""
    since = as_of - timedelta(days=HISTORY_DAYS)
    trans = _transition_scan(snapshot_dir, days)
    tr_worst = ", ".join(
        f'MAX(CASE WHEN "on" > {_d(as_of - timedelta(days=w))} THEN dpd END) AS tr_worst_{n}'
        for n, w in WINDOWS_DAYS.items()
    )
    return f"""
        SELECT account_id,
            CAST(SUM(CAST(scheme = 'cn' AND to_bucket = 'M1' AS BIGINT)) AS BIGINT)
                AS m1_entries_12m,
            CAST(SUM(CAST(scheme = 'cn' AND to_bucket = 'M0' AS BIGINT)) AS BIGINT) AS cures_12m,
            {tr_worst}
        FROM (SELECT DISTINCT * FROM {trans} t
              WHERE t."on" <= {_d(as_of)} AND t."on" > {_d(since)}
                AND t.account_id IN (SELECT account_id FROM {fresh}))
        GROUP BY account_id
    """


def raw_rows(
    con: Any, snapshot_dir: Path, book_dir: Path, days: Sequence[date], as_of: date,
    previous: date | None, day: pa.Table, fresh: pa.Table, promise_rows: pa.Table | None = None,
) -> pa.Table:  # fmt: skip
    """``feature_expr``'s raw columns for the accounts in ``fresh`` (``account_id``), from the
    day's rows ``day`` (``day_rows``) and the kept state; sorted by account id."""
    history, _ = history_of_earlier_months(con, snapshot_dir, days, as_of, previous)
    recent, last, _ = payment_state(con, book_dir, snapshot_dir, as_of, previous, only=fresh)
    for name, table in (("_day", day), ("_fresh", fresh), ("_hist", history),
                        ("_recent", recent), ("_last", last)):  # fmt: skip
        con.register(name, table)
    from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA

    old = [d for d in days if d <= as_of - timedelta(days=LAG_DAYS)]
    if old:
        lag_scan = scan(snapshot_files(snapshot_dir, old[-1]), ACCOUNT_STATE_SCHEMA,
                        ["account_id", "total_overdue_fen", "paid_total_fen"])  # fmt: skip
    else:
        lag_scan = scan(
            [], ACCOUNT_STATE_SCHEMA, ["account_id", "total_overdue_fen", "paid_total_fen"]
        )
    accounts = scan([book_dir / "accounts.parquet"], contract.ACCOUNTS.arrow_schema(),
                    ["account_id", "credit_limit_fen", "principal_fen", "opened_on"])  # fmt: skip
    worst = ", ".join(f"MAX(snap_worst_{n}) AS snap_worst_{n}" for n in WINDOWS_DAYS)
    cut = _d(as_of - timedelta(days=RECENT_DAYS))
    late = ", ".join(f"'{b}'" for b in LATE_BUCKETS_M3P)
    sql = f"""
    WITH base AS (SELECT * FROM _day WHERE account_id IN (SELECT account_id FROM _fresh)),
    hist AS (
        SELECT account_id, {worst}, CAST(SUM(months_m1_12m) AS BIGINT) AS months_m1_12m,
            CAST(SUM(months_m2_12m) AS BIGINT) AS months_m2_12m,
            CAST(SUM(months_m3p_12m) AS BIGINT) AS months_m3p_12m
        FROM (
            SELECT * FROM _hist WHERE account_id IN (SELECT account_id FROM _fresh)
            UNION ALL
            SELECT account_id, dpd, dpd, dpd, CAST(bucket_cn = 'M1' AS BIGINT),
                CAST(bucket_cn = 'M2' AS BIGINT), CAST(bucket_cn IN ({late}) AS BIGINT)
            FROM base
        ) GROUP BY account_id
    ), trans AS ({_transitions_sql(snapshot_dir, days, as_of, "_fresh")}
    ), pay AS (
        SELECT l.account_id, l.last_payment_date,
            CAST(COUNT(r.payment_id) AS BIGINT) AS n_payments_3m,
            CAST(COALESCE(SUM(r.amount_fen), 0) AS BIGINT) AS paid_3m_fen
        FROM _last l LEFT JOIN _recent r ON l.account_id = r.account_id AND r.value_date > {cut}
        WHERE l.account_id IN (SELECT account_id FROM _fresh)
        GROUP BY l.account_id, l.last_payment_date
    ), acc AS (
        SELECT * FROM {accounts} WHERE account_id IN (SELECT account_id FROM _fresh)
    ), lag AS (
        SELECT account_id, total_overdue_fen AS overdue_lag_fen, paid_total_fen AS paid_lag_fen
        FROM {lag_scan} WHERE account_id IN (SELECT account_id FROM _fresh)
    )
    SELECT {", ".join(f"base.{c}" for c in (*BASE_COLUMNS, *ITEM_COLUMNS))},
        acc.credit_limit_fen, acc.principal_fen, acc.opened_on,
        {", ".join(f"hist.snap_worst_{n}" for n in WINDOWS_DAYS)},
        hist.months_m1_12m, hist.months_m2_12m, hist.months_m3p_12m,
        trans.m1_entries_12m, trans.cures_12m,
        {", ".join(f"trans.tr_worst_{n}" for n in WINDOWS_DAYS)},
        pay.last_payment_date, pay.n_payments_3m, pay.paid_3m_fen,
        lag.overdue_lag_fen, lag.paid_lag_fen
    FROM base
    LEFT JOIN acc ON base.account_id = acc.account_id
    LEFT JOIN hist ON base.account_id = hist.account_id
    LEFT JOIN trans ON base.account_id = trans.account_id
    LEFT JOIN pay ON base.account_id = pay.account_id
    LEFT JOIN lag ON base.account_id = lag.account_id
    ORDER BY base.account_id
    """
    out = con.sql(sql).to_arrow_table()
    return _with_promises(out, promise_rows, promises.present(book_dir))


# -- the same rows by row position (the daily run's path) ----------------------------------------
#
# ``raw_rows`` joins every part on account id strings in DuckDB; ``raw_rows_at`` takes the fresh
# accounts' rows of the day's table by position and aligns each other part (history, payments,
# accounts, the lag snapshot, transitions) to the fresh ids by merging sorted runs
# (``daily_items.positions_in``: no hash of a million strings). Same columns, types and order
# (tested against ``raw_rows`` on random subsets, day after day).


def _aligned(table: pa.Table, ids: pa.Array, columns: Sequence[str]) -> dict[str, pa.Array]:
    """``columns`` of ``table`` at the rows of ``ids`` (``account_id``; null where absent)."""
    at = daily_items.positions_in(ids, table["account_id"].combine_chunks())
    taken = pa.array(at, pa.int64(), mask=at < 0)
    # taken from the chunks as they are: only the rows of ``ids`` are copied
    return {c: table[c].take(taken).combine_chunks() for c in columns}


def _max_nullable(a: pa.Array, b: pa.Array) -> pa.Array:
    """SQL MAX over the two values of a row: nulls skipped, null when both are."""
    return pc.max_element_wise(a, b, skip_nulls=True)


def _sum_nullable(a: pa.Array, b: pa.Array) -> pa.Array:
    """SQL SUM over the two values of a row (int64): nulls skipped, null when both are."""
    a, b = a.cast(pa.int64()), b.cast(pa.int64())
    both = pc.add(pc.fill_null(a, 0), pc.fill_null(b, 0))
    return pc.if_else(pc.and_(pc.is_null(a), pc.is_null(b)), pa.scalar(None, pa.int64()), both)


def _history_columns(history: pa.Table, base: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """The history part: the kept aggregate over earlier month ends and the day's own row."""
    ids = base["account_id"]
    names = [f"snap_worst_{n}" for n in WINDOWS_DAYS] + [f"months_{b}_12m" for b in
                                                          ("m1", "m2", "m3p")]  # fmt: skip
    kept = _aligned(history, ids, names)
    dpd, bucket = base["dpd"], base["bucket_cn"]
    today = {"m1": pc.equal(bucket, "M1"), "m2": pc.equal(bucket, "M2"),
             "m3p": pc.is_in(bucket, value_set=pa.array(LATE_BUCKETS_M3P))}  # fmt: skip
    today["m3p"] = pc.if_else(pc.is_null(bucket), pa.scalar(None, pa.bool_()), today["m3p"])
    out = {}
    for n in WINDOWS_DAYS:
        out[f"snap_worst_{n}"] = _max_nullable(kept[f"snap_worst_{n}"], dpd.cast(pa.int32()))
    for b, flag in today.items():
        out[f"months_{b}_12m"] = _sum_nullable(kept[f"months_{b}_12m"], flag.cast(pa.int64()))
    return out


def _payment_columns(recent: pa.Table, last: pa.Table, ids: pa.Array, as_of: date) -> dict[str, pa.Array]:
    """``last_payment_date``, ``n_payments_3m``, ``paid_3m_fen`` of the (sorted) ``ids``: the
    recent payments valued after the window's start counted and summed; null without a row in
    ``last``."""
    at_last = daily_items.positions_in(ids, last["account_id"].combine_chunks())
    cut = pa.scalar(as_of - timedelta(days=RECENT_DAYS), pa.date32())
    inside = recent.filter(pc.greater(recent["value_date"], cut))
    owner = daily_items.positions_in(inside["account_id"].combine_chunks(), ids)
    mine = owner >= 0
    amounts = np.asarray(pc.fill_null(inside["amount_fen"], 0).to_numpy(zero_copy_only=False),
                         np.int64)  # fmt: skip
    # SQL: COUNT(r.payment_id) counts non-null ids, SUM skips null amounts (COALESCE to 0)
    counted = inside["payment_id"].is_valid().to_numpy(zero_copy_only=False) & mine
    count = np.bincount(owner[counted], minlength=len(ids)).astype(np.int64)
    paid = np.zeros(len(ids), np.int64)
    np.add.at(paid, owner[mine], amounts[mine])
    missing = at_last < 0
    taken = pa.array(at_last, pa.int64(), mask=missing)
    return {
        "last_payment_date": last["last_payment_date"].combine_chunks().take(taken),
        "n_payments_3m": pa.array(count, pa.int64(), mask=missing),
        "paid_3m_fen": pa.array(paid, pa.int64(), mask=missing),
    }


def _transition_columns(
    con: Any, snapshot_dir: Path, days: Sequence[date], as_of: date, ids: pa.Array,
    previous: date | None = None, quiet: bool = False,
) -> dict[str, pa.Array]:  # fmt: skip
    """The transitions part of ``raw_rows`` (``_transitions_sql``) aligned to ``ids`` (sorted,
    distinct): from the kept aggregate (``transition_state``) and the days after it, or by
    the SQL scan of a year of transition files when there is no usable state."""
    state = transition_state(con, snapshot_dir, days, as_of, previous, quiet)
    if state is not None:
        kept = _transitions_from_state(con, snapshot_dir, days, as_of, ids, *state)
        if kept is not None:
            return kept
    con.register("_fresh_at", pa.table({"account_id": ids}))
    sql = _transitions_sql(snapshot_dir, days, as_of, "_fresh_at") + " ORDER BY account_id"
    table = con.sql(sql).to_arrow_table()  # in id order: aligned by merging sorted runs
    con.unregister("_fresh_at")
    return _aligned(table, ids, TRANSITION_COLUMNS)


# -- transitions: a per-account aggregate of the last 12 months, kept beside each snapshot ------
#
# ``_transitions_sql`` decodes a year of transition rows (2.3M at 1M accounts) every day. The
# state built on a day R serves the days R..R + ``TRANSITION_SPAN_DAYS`` (K): for each window w
# (the 3, 6 and 12 months of ``WINDOWS_DAYS``; the counts are over 12 months), the rows with
# ``on`` in (R + K - w, R] stay inside w on every one of those days, so they are kept as one
# aggregate row per account (the *core*); the rows in (R - w, R + K - w] may leave w in that
# time, so they are kept as rows (the *edge*, a few weeks' worth); the rows after R are read
# from the (few) snapshots after R. The three parts are disjoint in ``on`` and so are their
# distinct rows: SUM and MAX over the parts equal those over the whole (SQL null rules kept:
# a count is null when every contribution is). Built again once the span has passed, or when
# a snapshot up to R was written again (fingerprint: the days up to R and the identity of their
# transition folders).

TRANSITION_FILES = ("transitions_core.arrow", "transitions_edge.arrow")
TRANSITION_SPAN_DAYS = 28  # K: a state built on R serves the days R..R + K (K < every window)
QUIET_SHARE = 0.05  # a day with at most this share of its accounts fresh may rebuild early
TRANSITION_COLUMNS = ["m1_entries_12m", "cures_12m", *(f"tr_worst_{n}" for n in WINDOWS_DAYS)]
TRANSITION_COUNTS = {"m1_entries_12m": "M1", "cures_12m": "M0"}  # cn scheme, to this bucket
TRANSITION_ROW_COLUMNS = ["account_id", "on", "scheme", "to_bucket", "dpd"]
CORE_SCHEMA = pa.schema([("account_id", pa.string()),
                         *[(c, pa.int64()) for c in TRANSITION_COUNTS],
                         *[(f"tr_worst_{n}", pa.int32()) for n in WINDOWS_DAYS]])  # fmt: skip
EDGE_SCHEMA = pa.schema([TRANSITIONS_SCHEMA.field(c) for c in TRANSITION_ROW_COLUMNS])


def _transition_folders(snapshot_dir: Path, day: date) -> list[Path]:
    folder = snapshot_path(snapshot_dir, day) / "transitions"
    return sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith((".", "_")))


def _transitions_fingerprint(snapshot_dir: Path, days: Sequence[date], built: date) -> str:
    """``R|hash``: the state's day R and the days up to R with their transition files'
    identity (a snapshot written again has new files)."""
    parts = []
    for d in days:
        if d <= built:
            files = [_file_identity(f) for f in _transition_folders(snapshot_dir, d)]
            parts.append([d.isoformat(), files])
    digest = _fingerprint(["transitions/1", TRANSITION_SPAN_DAYS, dict(WINDOWS_DAYS), parts])
    return f"{built.isoformat()}|{digest}"


def transition_state(
    con: Any, snapshot_dir: Path, days: Sequence[date], as_of: date, previous: date | None,
    quiet: bool = False,
) -> tuple[pa.Table, pa.Table, date] | None:  # fmt: skip
    """(core, edge, R): the previous snapshot's kept transitions state when it still serves
    ``as_of`` (linked into ``as_of``'s state), else one built on ``as_of`` (and written); None
    when a snapshot holds a transition dated after its own day (then none is kept). A
    ``quiet`` day (few fresh accounts) builds it again once it is half the span old, so that
    the build (about 0.8 s at 1M accounts) seldom falls on a busy day."""
    assert 0 < TRANSITION_SPAN_DAYS < min(WINDOWS_DAYS.values())
    assert max(WINDOWS_DAYS.values()) == HISTORY_DAYS
    here = snapshot_path(snapshot_dir, as_of)
    if previous is not None:
        there = snapshot_path(snapshot_dir, previous)
        found = [_read_fingerprinted(there, name) for name in TRANSITION_FILES]
        marks = {f[1] for f in found if f is not None}
        if None not in found and len(marks) == 1:
            mark = marks.pop()
            built = date.fromisoformat(mark.split("|", 1)[0])
            serves = built <= as_of <= built + timedelta(days=TRANSITION_SPAN_DAYS)
            if quiet and as_of >= built + timedelta(days=TRANSITION_SPAN_DAYS // 2):
                serves = False  # built again early, on a day with little else to do
            if serves and mark == _transitions_fingerprint(snapshot_dir, days, built):
                core, edge = (f[0] for f in found if f is not None)
                for name, table in zip(TRANSITION_FILES, (core, edge), strict=True):
                    _link_state(there, here, name, table, mark)
                return core, edge, built
    tables = _built_transitions(con, snapshot_dir, days, as_of)
    if tables is None:
        for name in TRANSITION_FILES:
            (here / STATE_DIR / name).unlink(missing_ok=True)
        return None
    mark = _transitions_fingerprint(snapshot_dir, days, as_of)
    for name, table in zip(TRANSITION_FILES, tables, strict=True):
        _write_state(here, name, table, mark)
    return tables[0], tables[1], as_of


def _transition_scan(snapshot_dir: Path, days: Sequence[date]) -> str:
    files = [f for d in days for f in _transition_folders(snapshot_dir, d)]
    return scan(files, TRANSITIONS_SCHEMA, TRANSITION_ROW_COLUMNS)


def _built_transitions(
    con: Any, snapshot_dir: Path, days: Sequence[date], built: date
) -> tuple[pa.Table, pa.Table] | None:
    """(core, edge) on ``built`` (R) from the distinct transition rows of the snapshots up to
    R; None when one of them is dated after R (its snapshot's day)."""
    upto = [d for d in days if d <= built]
    since, span = built - timedelta(days=HISTORY_DAYS), timedelta(days=TRANSITION_SPAN_DAYS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tr_rows AS SELECT DISTINCT * FROM
        {_transition_scan(snapshot_dir, upto)} t WHERE t."on" > {_d(since)}
    """)  # fmt: skip
    late = con.sql(f'SELECT COUNT(*) FROM _tr_rows WHERE "on" > {_d(built)}').fetchall()
    if late[0][0]:
        return None
    counts = ", ".join(
        f"CAST(SUM(CAST(scheme = 'cn' AND to_bucket = '{b}' AS BIGINT)) AS BIGINT) AS {c}"
        for c, b in TRANSITION_COUNTS.items()
    )
    worst = ", ".join(
        f'MAX(CASE WHEN "on" > {_d(built + span - timedelta(days=w))} THEN dpd END) '
        f"AS tr_worst_{n}" for n, w in WINDOWS_DAYS.items()
    )  # fmt: skip
    core = con.sql(f"""
        SELECT account_id, {counts}, {worst} FROM _tr_rows
        WHERE "on" > {_d(built + span - timedelta(days=HISTORY_DAYS))}
        GROUP BY account_id ORDER BY account_id
    """).to_arrow_table()  # fmt: skip
    strips = " OR ".join(
        f'("on" > {_d(built - timedelta(days=w))} AND "on" <= {_d(built + span - timedelta(days=w))})'
        for w in WINDOWS_DAYS.values()
    )
    edge = con.sql(f"SELECT * FROM _tr_rows WHERE {strips} "
                   "ORDER BY account_id, \"on\", scheme, to_bucket, dpd").to_arrow_table()  # fmt: skip
    con.execute("DROP TABLE _tr_rows")
    return core.cast(CORE_SCHEMA), edge.cast(EDGE_SCHEMA)


def _transitions_from_state(
    con: Any, snapshot_dir: Path, days: Sequence[date], as_of: date, ids: pa.Array,
    core: pa.Table, edge: pa.Table, built: date,
) -> dict[str, pa.Array] | None:  # fmt: skip
    """``_transitions_sql``'s columns for ``ids`` from the kept core and edge of R (``built``)
    and the distinct rows of the snapshots after R (None if one of those is dated on or
    before R: then the scan decides)."""
    after = [d for d in days if built < d <= as_of]
    new = con.sql(f"""
        SELECT DISTINCT * FROM {_transition_scan(snapshot_dir, after)} t
        WHERE t."on" <= {_d(as_of)}
    """).to_arrow_table().cast(EDGE_SCHEMA)  # fmt: skip
    new_owner = daily_items.positions_in(new["account_id"].combine_chunks(), ids)
    new = new.filter(pa.array(new_owner >= 0))
    new_owner = new_owner[new_owner >= 0]
    first = pa.scalar(built, pa.date32())
    if new.num_rows and pc.any(pc.less_equal(new["on"], first)).as_py():
        return None
    n = len(ids)
    at_core = daily_items.positions_in(ids, core["account_id"].combine_chunks())
    taken = pa.array(at_core, pa.int64(), mask=at_core < 0)
    present = at_core >= 0
    sums = {c: np.zeros(n, np.int64) for c in TRANSITION_COUNTS}
    valid = {c: np.zeros(n, np.int64) for c in TRANSITION_COUNTS}
    worst = {w: np.full(n, np.iinfo(np.int64).min, np.int64) for w in WINDOWS_DAYS}
    seen = {w: np.zeros(n, bool) for w in WINDOWS_DAYS}
    edge_owner = daily_items.positions_in(edge["account_id"].combine_chunks(), ids)
    mine = edge_owner >= 0
    top = built + timedelta(days=TRANSITION_SPAN_DAYS)  # edge rows of w: on <= top - w
    for rows, owner, limit in ((edge.filter(pa.array(mine)).combine_chunks(), edge_owner[mine], top),
                               (new.combine_chunks(), new_owner, None)):  # fmt: skip
        on = np.asarray(pc.cast(rows["on"], pa.int32()).to_numpy(zero_copy_only=False), np.int64)
        dpd_valid = rows["dpd"].is_valid().to_numpy(zero_copy_only=False)
        dpd = np.asarray(pc.fill_null(rows["dpd"], 0).to_numpy(zero_copy_only=False), np.int64)
        for name, w in WINDOWS_DAYS.items():
            inside = _in_window(on, as_of, w, limit)
            if w == HISTORY_DAYS:
                present[owner[inside]] = True
                _add_counts(rows, owner, inside, sums, valid)
            pick = inside & dpd_valid
            np.maximum.at(worst[name], owner[pick], dpd[pick])
            seen[name][owner[pick]] = True
    out: dict[str, pa.Array] = {}
    for c in TRANSITION_COUNTS:
        kept = core[c].combine_chunks().take(taken)
        known = kept.is_valid().to_numpy(zero_copy_only=False) | (valid[c] > 0)
        total = np.asarray(pc.fill_null(kept, 0).to_numpy(zero_copy_only=False), np.int64)
        out[c] = pa.array(total + sums[c], pa.int64(), mask=~(known & present))
    for name in WINDOWS_DAYS:
        kept = core[f"tr_worst_{name}"].combine_chunks().take(taken)
        mine_worst = pa.array(worst[name].astype(np.int32), pa.int32(), mask=~seen[name])
        out[f"tr_worst_{name}"] = _max_nullable(kept, mine_worst)
    return out


def _in_window(on: np.ndarray, as_of: date, window_days: int, top: date | None) -> np.ndarray:
    """Which rows (``on`` in days since the epoch) are inside the window of ``window_days``
    ending on ``as_of`` (and, for edge rows, on or before ``top - window_days``)."""
    epoch = date(1970, 1, 1)
    inside = on > (as_of - timedelta(days=window_days) - epoch).days
    if top is not None:
        inside &= on <= (top - timedelta(days=window_days) - epoch).days
    return inside


def _add_counts(
    rows: pa.Table, owner: np.ndarray, inside: np.ndarray, sums: dict[str, np.ndarray],
    valid: dict[str, np.ndarray],
) -> None:  # fmt: skip
    """Each count's contributions of ``rows`` (SQL's CAST(scheme = 'cn' AND to_bucket = B AS
    BIGINT): null when unknown, skipped by SUM) added per owner, with how many were known."""
    cn = pc.equal(rows["scheme"], "cn")
    for c, bucket in TRANSITION_COUNTS.items():
        flag = pc.and_kleene(cn, pc.equal(rows["to_bucket"], bucket))
        known = flag.is_valid().to_numpy(zero_copy_only=False) & inside
        value = np.asarray(pc.fill_null(flag, False).to_numpy(zero_copy_only=False), np.int64)
        np.add.at(sums[c], owner[known], value[known])
        np.add.at(valid[c], owner[known], 1)


def raw_rows_at(
    con: Any, snapshot_dir: Path, book_dir: Path, days: Sequence[date], as_of: date,
    previous: date | None, day: pa.Table, rows: np.ndarray, promise_rows: pa.Table | None = None,
    *, in_id_order: bool = False,
) -> pa.Table:  # fmt: skip
    """``raw_rows`` for the accounts at positions ``rows`` of the day's rows ``day`` (distinct
    positions; ``day_rows``'s table or its lean form), joined by position and sorted runs
    instead of SQL joins on ids; sorted by account id (``in_id_order``: the caller gives
    ``rows`` in that order, not sorted again)."""
    from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA

    rows = np.asarray(rows, np.int64)
    seen = np.zeros(day.num_rows, bool)  # distinct positions, without a hash (np.unique's)
    seen[rows] = True
    assert int(seen.sum()) == len(rows), "each fresh account once"
    if not in_id_order:
        ids = day["account_id"].take(pa.array(rows))
        rows = rows[np.asarray(pc.sort_indices(ids).to_numpy(), np.int64)]
    taken = pa.array(rows)
    wanted = [*BASE_COLUMNS, *ITEM_COLUMNS]
    if daily_items.ITEMS_COUNT in day.column_names:
        wanted.append(daily_items.ITEMS_COUNT)
    fresh = daily_items.nulled_items(day.select(wanted).take(taken))
    base = {c: fresh[c].combine_chunks() for c in (*BASE_COLUMNS, *ITEM_COLUMNS)}
    ids = base["account_id"]
    cursor = con.cursor()  # the payments part's own DuckDB connection (one per thread)

    def payments() -> dict[str, pa.Array]:
        fresh = pa.table({"account_id": ids})
        recent, last, _ = payment_state(cursor, book_dir, snapshot_dir, as_of, previous, fresh)
        return _payment_columns(recent, last, ids, as_of)

    def the_rest() -> dict[str, pa.Array]:
        history, _ = history_of_earlier_months(con, snapshot_dir, days, as_of, previous)
        accounts = daily_items.read([book_dir / "accounts.parquet"],
                                    contract.ACCOUNTS.arrow_schema(), ACCOUNT_COLUMNS)  # fmt: skip
        old = [d for d in days if d <= as_of - timedelta(days=LAG_DAYS)]
        lag_files = snapshot_files(snapshot_dir, old[-1]) if old else []
        lag = daily_items.read(lag_files, ACCOUNT_STATE_SCHEMA,
                               ["account_id", "total_overdue_fen", "paid_total_fen"])  # fmt: skip
        lag = lag.rename_columns(["account_id", "overdue_lag_fen", "paid_lag_fen"])
        part = _aligned(accounts, ids, ACCOUNT_COLUMNS[1:])
        part.update(_history_columns(history, base))
        quiet = len(rows) <= QUIET_SHARE * day.num_rows
        part.update(_transition_columns(con, snapshot_dir, days, as_of, ids, previous, quiet))
        part.update(_aligned(lag, ids, ["overdue_lag_fen", "paid_lag_fen"]))
        return part

    try:  # the payments beside the rest: each half mostly Arrow, DuckDB and nogil merges
        paid, rest = daily_items.beside(payments, the_rest)
    finally:
        cursor.close()
    assert set(paid) | set(rest) == set(RAW_AT_ORDER), "a feature part's columns changed"
    out = dict(base)
    for name in RAW_AT_ORDER:  # the columns in the order of the sequential form (the reference's)
        out[name] = paid[name] if name in paid else rest[name]
    table = pa.table(out)
    return _with_promises(table, promise_rows, promises.present(book_dir))


ACCOUNT_COLUMNS = ["account_id", "credit_limit_fen", "principal_fen", "opened_on"]
# raw_rows_at's columns after the day's own, in the order they were always added
RAW_AT_ORDER = [*ACCOUNT_COLUMNS[1:], *(f"snap_worst_{n}" for n in WINDOWS_DAYS),
                *(f"months_{b}_12m" for b in ("m1", "m2", "m3p")), *TRANSITION_COLUMNS,
                "last_payment_date", "n_payments_3m", "paid_3m_fen", "overdue_lag_fen",
                "paid_lag_fen"]  # fmt: skip

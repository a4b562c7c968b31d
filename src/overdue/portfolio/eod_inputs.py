"""The end-of-day batch's inputs as Ibis expressions: one nested row per account.

The same expressions compile for DuckDB and for Spark; only reading files differs by backend
(``overdue.portfolio.engines``). Nested collections are unordered (Spark cannot order a
``collect_list``); the kernel sorts them by their date and ``entry_seq``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir

from overdue.portfolio.kernel import ITEM_STATE_TYPE

ITEM_FIELDS = (
    "item_id",
    "due_date",
    "principal_fen",
    "interest_fen",
    "fee_fen",
    "minimum_fen",
    "entry_seq",
)
PAYMENT_FIELDS = ("payment_id", "value_date", "amount_fen", "entry_seq")
WAIVER_FIELDS = ("value_date", "component", "amount_fen", "approver", "entry_seq")
REVERSAL_FIELDS = ("payment_id", "value_date", "entry_seq")

COLLECTIONS = {
    "items": ("due_items", ITEM_FIELDS),
    "payments": ("payments", PAYMENT_FIELDS),
    "waivers": ("waivers", WAIVER_FIELDS),
    "reversals": ("reversals", REVERSAL_FIELDS),
}

# The previous snapshot's item-state fields the kernel resumes from (``prev_items``).
PREV_ITEM_FIELDS = tuple(ITEM_STATE_TYPE.names)
# Previous-snapshot columns the kernel resumes from, renamed with a ``prev_`` prefix.
PREV_COLUMNS = (
    "status",
    "dpd",
    "bucket_cn",
    "bucket_us",
    "credit_balance_fen",
    "paid_total_fen",
    "waived_total_fen",
    "revolved_amount_fen",
    "recovered_after_charge_off_fen",
    "max_dpd",
    "run_start",
    "charged_off_on",
)


@dataclass(frozen=True)
class BookTables:
    """The book's tables as Ibis tables on one backend; event tables cover some entry dates."""

    accounts: ir.Table
    events: dict[str, ir.Table]  # due_items, payments, waivers, reversals
    keys: BookKeys | None = None  # where the events' ``account_no`` can be read, if anywhere


@dataclass(frozen=True)
class BookKeys:
    """A book whose writer put ``account_no`` (the account's row in ``accounts_file``) into
    its event files (``book_layout``): the files, so that the DuckDB rebuild can read the events
    with it instead of joining them on account ids (``flat_rebuild``)."""

    accounts_file: Path
    files: dict[str, list[Path]] = field(default_factory=dict)  # event table -> its files


def _collect(table: ir.Table, name: str, fields: tuple[str, ...]) -> ir.Table:
    record = ibis.struct({f: table[f] for f in fields})
    return table.group_by("account_id").aggregate(**{name: record.collect()})


def _base_accounts(book: BookTables, as_of: date) -> ir.Table:
    a = book.accounts
    return a.filter(a.opened_on <= ibis.literal(as_of)).select(
        "account_id", "customer_id", "product", "policy"
    )


def window_events(
    book: BookTables, table_name: str, as_of: date, only: ir.Table | None = None
) -> ir.Table:
    """One event table's rows booked up to ``as_of`` (of the accounts in ``only``, if given)."""
    events = book.events[table_name]
    events = events.filter(events.entry_date <= ibis.literal(as_of))
    if only is not None:  # collect only the accounts asked for, not the whole history
        events = events.semi_join(only, "account_id")
    return events


def _attach_events(
    rows: ir.Table, book: BookTables, as_of: date, only: ir.Table | None = None
) -> ir.Table:
    for name, (table_name, fields) in COLLECTIONS.items():
        collected = _collect(window_events(book, table_name, as_of, only), name, fields)
        rows = rows.left_join(collected, "account_id").drop("account_id_right")
    return rows


def rebuild_accounts(book: BookTables, as_of: date, only: ir.Table | None = None) -> ir.Table:
    """The accounts a rebuild covers (opened by ``as_of``; those in ``only``, if given)."""
    rows = _base_accounts(book, as_of)
    if only is not None:
        rows = rows.semi_join(only, "account_id")
    return rows


def rebuild_rows(book: BookTables, as_of: date, only: ir.Table | None = None) -> ir.Table:
    """Every account (or those in ``only``) with all its events booked up to ``as_of``."""
    rows = rebuild_accounts(book, as_of, only)
    return _attach_events(rows, book, as_of, only).order_by("account_id")


def replay_accounts(book: BookTables, previous: ir.Table, after: date) -> ir.Table:
    """Accounts that cannot resume: an event booked after ``after`` whose value date is on or
    before it (a backdated entry), any reversal, or no row in the previous snapshot."""
    backdated = []
    for table_name in ("payments", "waivers"):
        t = book.events[table_name]
        backdated.append(_ids(t.filter(t.value_date <= ibis.literal(after))))
    backdated.append(_ids(book.events["reversals"]))
    items = book.events["due_items"]
    backdated.append(_ids(items.filter(items.due_date <= ibis.literal(after))))
    new_accounts = _ids(book.accounts.anti_join(previous, "account_id"))
    union = backdated[0]
    for part in (*backdated[1:], new_accounts):
        union = union.union(part)
    return union.distinct()


def _ids(table: ir.Table) -> ir.Table:
    return table.select(account_id=table.account_id.cast("string"))


def resume_accounts(
    book: BookTables, previous: ir.Table, as_of: date, replay: ir.Table
) -> ir.Table:
    """The accounts that resume (in the previous snapshot, not replayed) with its ``prev_``
    columns, without any collection."""
    rows = _base_accounts(book, as_of).anti_join(replay, "account_id")
    prev = previous.select("account_id", *[previous[c].name(f"prev_{c}") for c in PREV_COLUMNS])
    return rows.inner_join(prev, "account_id")


def resume_rows(
    book: BookTables, previous: ir.Table, previous_items: ir.Table, as_of: date, replay: ir.Table
) -> ir.Table:
    """Accounts in the previous snapshot and not replayed, with the window's events.

    ``previous`` is the previous snapshot's account rows and ``previous_items`` its item rows
    (the side table), collected back into ``prev_items`` (null for an account without items;
    the kernel resumes every row that has a ``prev_status``)."""
    rows = resume_accounts(book, previous, as_of, replay)
    states = _collect(previous_items, "prev_items", PREV_ITEM_FIELDS)
    rows = rows.left_join(states, "account_id").drop("account_id_right")
    return _attach_events(rows, book, as_of).order_by("account_id")

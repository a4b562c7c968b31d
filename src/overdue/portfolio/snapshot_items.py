"""A snapshot's item ledgers as a flat side table: split off on write, joined back on read.

The kernel gives one row per account with its item ledgers nested in ``items`` and its bucket
transitions in ``transitions`` (``kernel.SNAPSHOT_SCHEMA``). On disk a snapshot keeps them
apart: ``accounts/`` holds the rows without either list, with the as-of summary of the item
ledgers instead (``ACCOUNT_STATE_SCHEMA``, ``account_rows``: the same function for both
engines), ``items/`` one row per item ledger (``ITEM_ROW_SCHEMA``: ``account_id``, ``as_of`` and
the item's fields), in the kernel's order, and ``transitions/`` one row per bucket transition
(``transition_rows``), made from the kernel's batches as they are written. Writing and reading
flat columns costs a fraction of a nested ``list<struct>`` column (no repetition levels);
readers that want the nested rows get them back from ``join_items``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from overdue.portfolio.item_summary import SUMMARY_FIELDS, summarise
from overdue.portfolio.kernel import (
    ACCOUNT_BASE_SCHEMA,
    ACCOUNT_STATE_SCHEMA,
    ITEM_ROW_SCHEMA,
    ITEM_STATE_TYPE,
    SNAPSHOT_SCHEMA,
    TRANSITION_TYPE,
)

ITEMS_COLUMN = "items"
TRANSITIONS_COLUMN = "transitions"
ITEMS_AT = SNAPSHOT_SCHEMA.get_field_index(ITEMS_COLUMN)
# The kernel's rows with the item summary appended (what Spark's ``mapInArrow`` gives).
SUMMARISED_SCHEMA = pa.schema([*SNAPSHOT_SCHEMA, *SUMMARY_FIELDS])


def _summary_columns(rows: pa.RecordBatch) -> list[pa.Array]:
    summary = summarise(rows.column(ITEMS_AT), rows.column("as_of"))
    return [summary[name] for name, _ in SUMMARY_FIELDS]


def account_rows(rows: pa.RecordBatch) -> pa.RecordBatch:
    """The account files' rows (``ACCOUNT_STATE_SCHEMA``) of a batch of kernel rows: without
    the lists, with the summary of the items (``item_summary``)."""
    assert rows.schema.equals(SNAPSHOT_SCHEMA), "not the kernel's output schema"
    columns = [rows.column(f.name) for f in ACCOUNT_BASE_SCHEMA]
    return pa.RecordBatch.from_arrays(
        [*columns, *_summary_columns(rows)], schema=ACCOUNT_STATE_SCHEMA
    )


def with_summary(rows: pa.RecordBatch) -> pa.RecordBatch:
    """The kernel's rows with the summary of their items appended (``SUMMARISED_SCHEMA``)."""
    assert rows.schema.equals(SNAPSHOT_SCHEMA), "not the kernel's output schema"
    return pa.RecordBatch.from_arrays(
        [*rows.columns, *_summary_columns(rows)], schema=SUMMARISED_SCHEMA
    )


def split_items(rows: pa.RecordBatch) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """(account rows: ``account_rows``, one row per item) of a batch of kernel rows."""
    assert rows.schema.equals(SNAPSHOT_SCHEMA), "not the kernel's output schema"
    lists = rows.column(ITEMS_AT)
    structs = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    assert len(parents) == len(structs), "null item structs in the kernel's output"
    fields = structs.flatten() if len(structs) else [pa.array([], f.type) for f in ITEM_STATE_TYPE]
    items = pa.RecordBatch.from_arrays(
        [
            pc.take(rows.column("account_id"), parents),
            pc.take(rows.column("as_of"), parents),
            *fields,
        ],
        schema=ITEM_ROW_SCHEMA,
    )
    return account_rows(rows), items


TRANSITION_ROW_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("as_of", pa.date32()),
        *[(f.name, f.type) for f in TRANSITION_TYPE],
    ]
)


def transition_rows(rows: pa.RecordBatch | pa.Table) -> pa.Table:
    """One row per bucket transition of ``rows`` (``account_id``, ``as_of`` and the
    transition's fields), in the rows' order."""
    lists = rows.column("transitions")
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    return pa.Table.from_arrays(
        [
            pc.take(rows.column("account_id"), parents),
            pc.take(rows.column("as_of"), parents),
            *[flat.field(f.name) for f in TRANSITION_TYPE],
        ],
        schema=TRANSITION_ROW_SCHEMA,
    )


TRANSITION_ORDER = (("account_id", "ascending"), ("on", "ascending"), ("scheme", "ascending"))
UNSORTED_MARK = "_unsorted"  # beside a part's transition rows that are not in key order


def in_key_order(table: pa.Table) -> bool:
    """Whether ``table`` is already sorted by ``TRANSITION_ORDER`` (no null keys)."""
    if table.num_rows < 2:
        return True
    keys = [table[name].combine_chunks() for name, _ in TRANSITION_ORDER]
    if any(k.null_count for k in keys):
        return False
    before, after = [k[:-1] for k in keys], [k[1:] for k in keys]
    ordered = pc.greater_equal(after[2], before[2])  # the last key: ties allowed
    for b, a in zip(reversed(before[:-1]), reversed(after[:-1]), strict=True):
        ordered = pc.or_(pc.greater(a, b), pc.and_(pc.equal(a, b), ordered))
    return bool(pc.all(ordered).as_py())


class KeyOrder:
    """Whether transition tables seen one after another are, all together, in key order."""

    def __init__(self) -> None:
        self.ordered = True
        self._last: pa.Table | None = None

    def add(self, table: pa.Table) -> None:
        if not self.ordered or table.num_rows == 0:
            return
        if self._last is not None:
            seam = pa.concat_tables([self._last, table.slice(0, 1)])
            self.ordered = in_key_order(seam)
        self.ordered = self.ordered and in_key_order(table)
        self._last = table.slice(table.num_rows - 1, 1)


def join_items(
    accounts: pa.Table, items: pa.Table, transitions: pa.Table | None = None
) -> pa.Table:
    """The kernel's rows again: ``accounts`` (sorted by account id, ids unique) with each one's
    item rows nested in ``items`` and its ``transitions`` rows (``TRANSITION_ROW_SCHEMA``; none
    given: empty lists) in ``transitions``, each in their stored order."""
    ids = accounts.column("account_id").combine_chunks()
    structs, offsets = _nest(ids, items, ITEM_STATE_TYPE)
    nested = pa.ListArray.from_arrays(offsets, structs)
    if transitions is None:
        transitions = TRANSITION_ROW_SCHEMA.empty_table()
    moves, move_offsets = _nest(ids, transitions, TRANSITION_TYPE)
    columns = [
        accounts.column(f.name)
        if f.name not in (ITEMS_COLUMN, TRANSITIONS_COLUMN)
        else pa.chunked_array([nested if f.name == ITEMS_COLUMN else
                               pa.ListArray.from_arrays(move_offsets, moves)])
        for f in SNAPSHOT_SCHEMA
    ]  # fmt: skip
    return pa.Table.from_arrays(columns, schema=SNAPSHOT_SCHEMA)


def _nest(ids: pa.Array, rows: pa.Table, kind: pa.StructType) -> tuple[pa.StructArray, pa.Array]:
    """(``rows``' fields of ``kind`` as structs grouped by account in the order of ``ids``,
    keeping each account's stored order; the list offsets per account of ``ids``)."""
    n = len(ids)
    counts = np.zeros(n, np.int64)
    if rows.num_rows:
        found = pc.index_in(rows.column("account_id"), value_set=ids)
        assert found.null_count == 0, "rows of accounts missing from the snapshot"
        owner = found.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        if np.any(owner[1:] < owner[:-1]):  # parts of a snapshot are each in account order
            order = np.argsort(owner, kind="stable")
            rows, owner = rows.take(pa.array(order)), owner[order]
        counts = np.bincount(owner, minlength=n)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    structs = pa.StructArray.from_arrays(
        [rows.column(f.name).combine_chunks().cast(f.type) for f in kind], fields=list(kind)
    )
    return structs, pa.array(offsets)

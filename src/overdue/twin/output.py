"""Turn a simulated chunk into the contract's tables and write them in the book layout.

Layout (docs: the data contract): ``customers.parquet`` and ``accounts.parquet`` (one row group
per chunk), and the event tables hive-partitioned by booking date,
``<table>/entry_date=YYYY-MM-DD/part-<chunk>.parquet`` (the files hold every column but
``entry_date``, which is in the path). ``_truth/latent_types.parquet`` holds the hidden latent type
of each customer; the leading underscore keeps it out of the book's tables.

``entry_seq`` is strictly increasing in booking order across a table even though chunks are
written one after the other: ``entry_seq = day << 40 | chunk << 26 | rank`` where ``rank`` is the
row's order among the chunk's rows booked that day.

Every event file also holds the internal ``account_no`` (``book_layout``): the account's global
index, which is its row in ``accounts.parquet`` (chunks append their accounts in order).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio.book_layout import ACCOUNT_NO, PART_FILE, PARTITION_PREFIX, keyed_file_schema
from overdue.portfolio.contract import TABLES, conform
from overdue.twin.customers import (
    account_ids,
    customer_ids,
    customers_table,
    id_strings,
    latent_table,
)
from overdue.twin.products import (
    METHOD_NAMES,
    POLICY_BY_PRODUCT,
    PRODUCT_NAMES,
    REVOLVING,
    annual_rate_text,
)
from overdue.twin.simulate import APPROVERS, ChunkResult, ChunkSimulator

IntArray = npt.NDArray[np.int64]

DAY_SHIFT: Final = 40
CHUNK_SHIFT: Final = 26
MAX_CHUNKS: Final = 1 << (DAY_SHIFT - CHUNK_SHIFT)
MAX_RANK: Final = 1 << CHUNK_SHIFT
TRUTH_DIR: Final = "_truth"
LATENT_FILE: Final = "latent_types.parquet"
EVENT_TABLES: Final = ("due_items", "payments", "waivers", "reversals")


def dates(days: IntArray) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), type=pa.date32())


def entry_seq(entry_day: IntArray, chunk_index: int) -> tuple[IntArray, IntArray]:
    """Booking order of a chunk's rows: (permutation sorting by day, entry_seq per sorted row)."""
    assert 0 <= chunk_index < MAX_CHUNKS, f"at most {MAX_CHUNKS} chunks"
    order = np.argsort(entry_day, kind="stable")
    sorted_days = entry_day[order]
    starts = np.flatnonzero(np.r_[True, sorted_days[1:] != sorted_days[:-1]])
    counts = np.diff(np.r_[starts, sorted_days.size])
    rank = np.arange(sorted_days.size) - np.repeat(starts, counts)
    assert rank.size == 0 or rank.max() < MAX_RANK, "too many rows booked in one day of a chunk"
    seq = (sorted_days << DAY_SHIFT) | (chunk_index << CHUNK_SHIFT) | rank
    return order, seq.astype(np.int64)


class ChunkTables:
    """The contract tables of one simulated chunk."""

    def __init__(self, sim: ChunkSimulator, result: ChunkResult, chunk_index: int) -> None:
        self.sim = sim
        self.result = result
        self.chunk_index = chunk_index
        self.last_day = sim.window.last_day
        pop = result.population
        self.account_id = account_ids(pop.first_account, pop.n_accounts)

    # -- static tables --------------------------------------------------------------------------

    def customers(self) -> pa.Table:
        table = customers_table(self.sim.people_rng, self.result.population)
        return conform(TABLES["customers"], table)

    def latent_types(self) -> pa.Table:
        return latent_table(self.result.population)

    def accounts(self) -> pa.Table:
        pop, t = self.result.population, self.result.terms
        revolving = t.product == REVOLVING
        loan = ~revolving
        rate_text = np.array([annual_rate_text(int(num)) if num else "" for num in t.rate_num])
        none_str = pa.scalar(None, pa.string())
        none_int = pa.scalar(None, pa.int64())
        loan_mask = pa.array(loan)
        table = pa.table(
            {
                "account_id": self.account_id,
                "customer_id": customer_ids(pop).take(pa.array(pop.account_customer)),
                "product": pa.array(np.array(PRODUCT_NAMES)[t.product]),
                "policy": pa.array(np.array(POLICY_BY_PRODUCT)[t.product]),
                "currency": pa.array(np.full(pop.n_accounts, "CNY")),
                "opened_on": dates(t.opened_on),
                "credit_limit_fen": pc.if_else(
                    pa.array(revolving), pa.array(t.credit_limit_fen), none_int
                ),
                "principal_fen": pc.if_else(loan_mask, pa.array(t.principal_fen), none_int),
                "term_months": pc.if_else(loan_mask, pa.array(t.term_months), none_int),
                "repayment_method": pc.if_else(
                    loan_mask, pa.array(np.array(METHOD_NAMES)[t.method.clip(0)]), none_str
                ),
                "annual_rate": pc.if_else(loan_mask, pa.array(rate_text), none_str),
            }
        )
        return conform(TABLES["accounts"], table)

    # -- event tables ---------------------------------------------------------------------------

    def due_items(self) -> pa.Table:
        bills = self.sim.events.concat(self.sim.events.items) if self.sim.events.items else {}
        parts: list[pa.Table] = []
        if bills:
            month_index = bills["month"] + self.sim.window.first_month
            yyyymm = (month_index // 12 + 1970) * 100 + month_index % 12 + 1
            ids = pc.binary_join_element_wise(
                self.account_id.take(pa.array(bills["row"])),
                id_strings("-B", yyyymm, 6),
                "",
            )
            parts.append(
                pa.table(
                    {
                        "item_id": ids,
                        "account_id": self.account_id.take(pa.array(bills["row"])),
                        "due_date": dates(bills["due_day"]),
                        "principal_fen": pa.array(bills["principal_fen"]),
                        "interest_fen": pa.array(bills["interest_fen"]),
                        "fee_fen": pa.array(np.zeros(bills["row"].size, dtype=np.int64)),
                        "minimum_fen": pa.array(bills["minimum_fen"]),
                        "entry_day": pa.array(bills["entry_day"]),
                        ACCOUNT_NO: self._account_no(bills["row"]),
                    }
                )
            )
        sched = self.result.schedules
        if sched is not None:
            rows = self.result.loan_rows
            row_idx, period = np.nonzero(sched.due_day >= 0)
            account = self.account_id.take(pa.array(rows[row_idx]))
            parts.append(
                pa.table(
                    {
                        "item_id": pc.binary_join_element_wise(
                            account, pc.cast(pa.array(period + 1), pa.string()), "-"
                        ),
                        "account_id": account,
                        "due_date": dates(sched.due_day[row_idx, period]),
                        "principal_fen": pa.array(sched.principal_fen[row_idx, period]),
                        "interest_fen": pa.array(sched.interest_fen[row_idx, period]),
                        "fee_fen": pa.array(np.zeros(row_idx.size, dtype=np.int64)),
                        "minimum_fen": pa.nulls(row_idx.size, pa.int64()),
                        "entry_day": pa.array(self.result.terms.opened_on[rows[row_idx]]),
                        ACCOUNT_NO: self._account_no(rows[row_idx]),
                    }
                )
            )
        return self._finish("due_items", parts)

    def payments(self) -> pa.Table:
        ev = self.sim.events.concat(self.sim.events.payments) if self.sim.events.payments else {}
        if not ev:
            return self._finish("payments", [])
        account = self.account_id.take(pa.array(ev["row"]))
        table = pa.table(
            {
                "payment_id": self._event_ids(account, "-P", ev["number"]),
                "account_id": account,
                "value_date": dates(ev["value_day"]),
                "amount_fen": pa.array(ev["amount_fen"]),
                "entry_day": pa.array(ev["entry_day"]),
                ACCOUNT_NO: self._account_no(ev["row"]),
            }
        )
        return self._finish("payments", [table])

    def reversals(self) -> pa.Table:
        ev = self.sim.events.concat(self.sim.events.reversals) if self.sim.events.reversals else {}
        if not ev:
            return self._finish("reversals", [])
        account = self.account_id.take(pa.array(ev["row"]))
        payment_id = self._event_ids(account, "-P", ev["number"])
        table = pa.table(
            {
                "reversal_id": pc.binary_join_element_wise(payment_id, "R", "-"),
                "payment_id": payment_id,
                "account_id": account,
                "value_date": dates(ev["value_day"]),
                "entry_day": pa.array(ev["entry_day"]),
                ACCOUNT_NO: self._account_no(ev["row"]),
            }
        )
        return self._finish("reversals", [table])

    def waivers(self) -> pa.Table:
        ev = self.sim.events.concat(self.sim.events.waivers) if self.sim.events.waivers else {}
        if not ev:
            return self._finish("waivers", [])
        account = self.account_id.take(pa.array(ev["row"]))
        table = pa.table(
            {
                "waiver_id": self._event_ids(account, "-W", ev["number"]),
                "account_id": account,
                "value_date": dates(ev["value_day"]),
                "component": pa.array(np.full(ev["row"].size, "penalty")),
                "amount_fen": pa.array(ev["amount_fen"]),
                "approver": pa.array(np.array(APPROVERS)[ev["approver"]]),
                "entry_day": pa.array(ev["entry_day"]),
                ACCOUNT_NO: self._account_no(ev["row"]),
            }
        )
        return self._finish("waivers", [table])

    def _account_no(self, rows: IntArray) -> pa.Array:
        """The global index (= row in accounts.parquet) of the chunk's accounts ``rows``."""
        return pa.array(self.result.population.first_account + np.asarray(rows, np.int64))

    @staticmethod
    def _event_ids(account: pa.Array, infix: str, number: IntArray) -> pa.Array:
        return pc.binary_join_element_wise(
            account, infix, pc.cast(pa.array(number), pa.string()), ""
        )

    def _finish(self, name: str, parts: list[pa.Table]) -> pa.Table:
        """Keep what is booked by the last day, order by booking, add entry_date/entry_seq;
        the contract's columns, then ``account_no``."""
        spec = TABLES[name]
        if not parts:
            return spec.arrow_schema().append(keyed_file_schema(spec).field(ACCOUNT_NO)).empty_table()
        table = pa.concat_tables(parts)
        entry_day = table.column("entry_day").to_numpy()
        known = entry_day <= self.last_day
        table = table.filter(pa.array(known))
        entry_day = entry_day[known]
        order, seq = entry_seq(entry_day, self.chunk_index)
        table = table.take(pa.array(order))
        table = table.append_column("entry_date", dates(entry_day[order]))
        table = table.append_column("entry_seq", pa.array(seq))
        key = keyed_file_schema(spec).field(ACCOUNT_NO)
        return conform(spec, table).append_column(key, table.column(ACCOUNT_NO))


@dataclass(frozen=True)
class StagedPart:
    """One chunk's rows of one event table: a file with one row group per booking day."""

    path: Path
    days: tuple[int, ...]  # day number of each row group, ascending


def stage_events(folder: Path, name: str, table: pa.Table, chunk_index: int) -> StagedPart | None:
    """Write a chunk's event table (sorted by booking) as one file, a row group per booking day."""
    if table.num_rows == 0:
        return None
    spec = TABLES[name]
    days = pc.cast(table.column("entry_date"), pa.int32()).to_numpy()
    assert np.all(np.diff(days) >= 0), "rows must be in booking order"
    body = table.drop_columns(["entry_date"]).cast(keyed_file_schema(spec))
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    ends = np.r_[starts[1:], days.size]
    path = folder / name / f"part-{chunk_index}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, keyed_file_schema(spec)) as writer:
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            writer.write_table(body.slice(start, end - start), row_group_size=end - start)
    return StagedPart(path, tuple(int(d) for d in days[starts]))


def merge_staged(root: Path, name: str, parts: list[StagedPart]) -> int:
    """Write ``<table>/entry_date=…/part-0.parquet`` for each day, chunks in order; return days.

    Reads one row group per chunk and day, so memory holds one day of one chunk at a time.
    """
    schema = keyed_file_schema(TABLES[name])
    files = [(pq.ParquetFile(part.path), {d: i for i, d in enumerate(part.days)}) for part in parts]
    days = sorted({d for part in parts for d in part.days})
    for day in days:
        target = root / name / f"{PARTITION_PREFIX}{np.datetime64(day, 'D')}"
        target.mkdir(parents=True)
        with pq.ParquetWriter(target / PART_FILE, schema) as writer:
            for handle, groups in files:
                if day in groups:
                    writer.write_table(handle.read_row_group(groups[day]))
    for handle, _ in files:
        handle.close()
    return len(days)

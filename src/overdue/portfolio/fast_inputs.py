"""The compiled kernel's inputs: an Arrow batch of nested account rows as flat int64 matrices.

Every nested list is flattened once (``list_flatten``) and its struct fields read as numpy
columns (dates as day numbers, amounts in fen, a null minimum as −1); per-account segments are
given by offsets. Nothing here loops over rows in Python. A row whose values the compiled
kernel does not take (a null where the reference kernel needs a value, an unknown waiver
component, policy or bucket, too many records) is flagged ``A_SKIP`` and goes to the Python
reference kernel, which then fails or succeeds exactly as it always has.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from math import gcd

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from overdue.domain.buckets import CN_BUCKETS, US_BUCKETS
from overdue.domain.policy import COMPONENTS, PenaltyBase, Policy
from overdue.portfolio import fast_ledger as fl
from overdue.portfolio.kernel import MAX_EVENTS_PER_ACCOUNT, MAX_ITEMS_PER_ACCOUNT, KernelConfig

MAX_RATE_DIGITS = 18  # a penalty rate with more decimals than this goes to the Python kernel
MAX_POLICY_NUMBER = 1 << 40  # grace days, write-off DPD, tolerance and late fee stay below this

EPOCH_ORDINAL = 719_163  # date(1970, 1, 1).toordinal(): date32 counts days from it

from numba import njit  # noqa: E402  (after fast_ledger, which sets numba's cache folder)


@njit(cache=True, nogil=True)
def _scatter(matrix: np.ndarray, dest: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``matrix[rows[j], dest] = values[j]`` for every j (numpy's fancy assignment with its
    temporaries took 0.85 of the 1.4 s of CPU that preparing a 1M-account rebuild's batches
    took)."""
    for j in range(rows.shape[0]):
        row = rows[j]
        for k in range(dest.shape[0]):
            matrix[row, dest[k]] = values[j, k]


@dataclass
class KernelInputs:
    """The matrices and offsets ``fast_ledger.run_accounts`` takes, and what output needs."""

    accts: np.ndarray
    item_off: np.ndarray
    items: np.ndarray
    item_ids: pa.Array  # ids of prev items then new items: take(item_ids, items[I_SRC])
    item_id_off: np.ndarray
    item_id_data: np.ndarray
    pay_off: np.ndarray
    pays: np.ndarray
    pay_id_off: np.ndarray
    pay_id_data: np.ndarray
    rev_off: np.ndarray
    revs: np.ndarray
    rev_id_off: np.ndarray
    rev_id_data: np.ndarray
    waiver_off: np.ndarray
    waivers: np.ndarray
    policies: np.ndarray
    as_of: int
    previous: int


def day_number(day: object) -> int:
    """A ``datetime.date`` as a date32 day number."""
    return int(day.toordinal()) - EPOCH_ORDINAL  # type: ignore[attr-defined]


# -- Arrow → numpy ------------------------------------------------------------------------------


def _ints(arr: pa.Array, null_as: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Values as int64 (nulls as ``null_as``) and the null mask (None when there are none)."""
    if pa.types.is_date32(arr.type):
        arr = arr.view(pa.int32())
    elif pa.types.is_boolean(arr.type):
        arr = arr.cast(pa.int8())
    if not arr.null_count:
        return arr.to_numpy(zero_copy_only=False).astype(np.int64, copy=False), None
    nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    values[nulls] = null_as
    return values, nulls


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array, offsets as int64 relative to the bytes."""
    if len(arr) == 0:
        return np.zeros(1, np.int64), np.zeros(1, np.uint8)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    wide = pa.types.is_large_string(arr.type)
    buffers = arr.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=np.int64 if wide else np.int32, count=arr.offset + len(arr) + 1
    )[arr.offset :].astype(np.int64)
    data_buffer = buffers[2]
    if data_buffer is None or data_buffer.size == 0:
        return offsets, np.zeros(1, np.uint8)
    return offsets, np.frombuffer(data_buffer, dtype=np.uint8)


@dataclass
class _Flat:
    """One flattened list column: its structs, per-row lengths and each element's row."""

    structs: pa.StructArray | None
    lengths: np.ndarray
    row_of: np.ndarray

    @property
    def size(self) -> int:
        return 0 if self.structs is None else len(self.structs)

    def offsets(self) -> np.ndarray:
        out = np.zeros(len(self.lengths) + 1, np.int64)
        np.cumsum(self.lengths, out=out[1:])
        return out

    def field(self, name: str) -> pa.Array:
        assert self.structs is not None
        return self.structs.field(name)


def _empty_flat(n: int) -> _Flat:
    return _Flat(None, np.zeros(n, np.int64), np.zeros(0, np.int64))


def _flatten(batch: pa.RecordBatch, name: str) -> _Flat:
    n = batch.num_rows
    index = batch.schema.get_field_index(name)
    if index < 0:
        return _empty_flat(n)
    column = batch.column(index)
    lengths, _ = _ints(pc.list_value_length(column))
    structs = pc.list_flatten(column)
    row_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
    assert len(row_of) == len(structs), f"{name}: list lengths disagree with its values"
    return _Flat(structs, lengths, row_of)


class _BadRows:
    """Rows that must go to the Python kernel, collected from element-level masks."""

    def __init__(self, n: int) -> None:
        self.mask = np.zeros(n, dtype=bool)

    def rows(self, row_mask: np.ndarray | None) -> None:
        if row_mask is not None:
            self.mask |= row_mask

    def elements(self, flat: _Flat, element_mask: np.ndarray | None) -> None:
        if element_mask is not None and element_mask.any():
            self.mask[flat.row_of[element_mask]] = True


def _field_ints(flat: _Flat, name: str, bad: _BadRows, null_as: int = 0) -> np.ndarray:
    values, nulls = _ints(flat.field(name), null_as)
    bad.elements(flat, nulls)
    return values


def _day_column(batch: pa.RecordBatch, name: str) -> np.ndarray:
    """A nullable date column as day numbers, null as ``NO_DAY``."""
    values, _ = _ints(batch.column(name), int(fl.NO_DAY))
    return values


def _codes(arr: pa.Array, names: tuple[str, ...]) -> np.ndarray:
    """Index of each value in ``names``; −1 for a null or unknown value."""
    found = pc.index_in(arr.cast(pa.string()), value_set=pa.array(names, pa.string()))
    values, _ = _ints(found, -1)
    return values


# -- policies -----------------------------------------------------------------------------------


def _rate_fraction(rate: Decimal) -> tuple[int, int] | None:
    """The rate as an exact reduced fraction num / den, or None if it is out of range."""
    sign, digits, exponent = rate.as_tuple()
    if sign or not isinstance(exponent, int) or -exponent > MAX_RATE_DIGITS:
        return None
    num = int("".join(map(str, digits)) or "0")
    den = 1
    if exponent >= 0:
        num *= 10**exponent
    else:
        den = 10**-exponent
    common = gcd(num, den) or 1
    num, den = num // common, den // common
    if num >= MAX_POLICY_NUMBER or num >= den:
        return None  # the engine's rates are below 1 a day
    return num, den


def _exact_fen(amount: Decimal) -> int | None:
    fen = amount.scaleb(2)
    if fen != fen.to_integral_value() or not 0 <= fen < MAX_POLICY_NUMBER:
        return None
    return int(fen)


def policy_row(policy: Policy) -> np.ndarray | None:
    """The policy as a ``fast_ledger`` policy row, or None if the compiled kernel cannot run it."""
    fraction = _rate_fraction(policy.penalty_daily_rate)
    late_fee = _exact_fen(policy.late_fee)
    tolerance = policy.tolerance.scaleb(2).to_integral_value(rounding=ROUND_FLOOR)
    numbers = (policy.grace_days, policy.write_off_dpd, int(tolerance))
    if fraction is None or late_fee is None or not all(0 <= x < MAX_POLICY_NUMBER for x in numbers):
        return None
    row = np.zeros(fl.POLICY_COLS, np.int64)
    row[fl.Q_GRACE] = policy.grace_days
    row[fl.Q_TOL] = int(tolerance)  # owed > tolerance ⟺ owed_fen > floor(tolerance × 100)
    row[fl.Q_NUM], row[fl.Q_DEN] = fraction
    row[fl.Q_BASE_PI] = policy.penalty_base is PenaltyBase.PRINCIPAL_AND_INTEREST
    for r, component in enumerate(policy.allocation_order):
        row[fl.Q_O0 + r] = COMPONENTS.index(component)
    row[fl.Q_WO] = policy.write_off_dpd
    row[fl.Q_ACCRUE] = policy.accrue_after_write_off
    row[fl.Q_LATE] = late_fee
    return row


def _policy_index(
    batch: pa.RecordBatch, config: KernelConfig, bad: _BadRows
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's index into the policy matrix (−1 and a bad row when there is none)."""
    n = batch.num_rows
    index = np.full(n, -1, np.int64)
    rows: list[np.ndarray] = []
    names = batch.column("policy").cast(pa.string())
    products = batch.column("product").cast(pa.string())
    for (name, product), policy in config.policies.items():
        row = policy_row(policy)
        if row is None:
            continue
        match = pc.and_(pc.equal(names, name), pc.equal(products, product))
        hit = np.asarray(pc.fill_null(match, False).to_numpy(zero_copy_only=False), dtype=bool)
        index[hit & (index < 0)] = len(rows)
        rows.append(row)
    bad.rows(index < 0)
    matrix = np.zeros((max(1, len(rows)), fl.POLICY_COLS), np.int64)
    if rows:
        matrix[: len(rows)] = np.stack(rows)
    matrix[:, fl.Q_DEN] = np.maximum(matrix[:, fl.Q_DEN], 1)
    return np.maximum(index, 0), matrix


# -- the matrices -------------------------------------------------------------------------------

_PREV_ITEM_STATE = (
    (fl.U_PRIN, "unpaid_principal_fen"),
    (fl.U_INT, "unpaid_interest_fen"),
    (fl.U_FEE, "unpaid_fee_fen"),
    (fl.U_PEN, "unpaid_penalty_fen"),
    (fl.I_PROV, "provisional_penalty_fen"),
    (fl.I_ACCR, "penalty_accrued_fen"),
    (fl.I_PDAYS, "penalty_days"),
    (fl.I_PAID, "paid_fen"),
    (fl.I_WAIVED, "waived_fen"),
    (fl.I_LATE, "late_fee_charged_fen"),
    (fl.I_CLOSED, "closed_by_minimum"),
    (fl.I_REVOLVED, "revolved_fen"),
)

_PREV_ACCOUNT = (
    (fl.A_CREDIT, "prev_credit_balance_fen"),
    (fl.A_PAID, "prev_paid_total_fen"),
    (fl.A_WAIVED, "prev_waived_total_fen"),
    (fl.A_REVOLVED, "prev_revolved_amount_fen"),
    (fl.A_RECOVERED, "prev_recovered_after_charge_off_fen"),
    (fl.A_DPD, "prev_dpd"),
    (fl.A_MAXDPD, "prev_max_dpd"),
)


def _item_fields(
    flat: _Flat, seq_name: str, bad: _BadRows
) -> tuple[list[int], list[np.ndarray]]:
    """The due item's own fields (shared by previous and new items): (columns, values)."""
    columns = [fl.I_DUE, fl.I_SEQ, fl.I_PRIN, fl.I_INT, fl.I_FEE]
    names = ("due_date", seq_name, "principal_fen", "interest_fen", "fee_fen")
    values = [_field_ints(flat, name, bad) for name in names]
    minimum, nulls = _ints(flat.field("minimum_fen"), -1)
    negative = minimum < 0 if nulls is None else (minimum < 0) & ~nulls
    bad.elements(flat, negative)  # a null minimum is −1; a negative one is bad input
    return [*columns, fl.I_MIN], [*values, minimum]


def _scatter_items(
    items: np.ndarray, dest: np.ndarray, columns: list[int], values: list[np.ndarray]
) -> None:
    assert len(columns) == len(values) and all(len(v) == len(dest) for v in values)
    block = np.empty((len(values), len(dest)), np.int64)  # one row per column: typed for numba
    for j, column_values in enumerate(values):
        block[j] = column_values
    _scatter(items, dest, np.asarray(columns, np.int64), block)


def _build_items(prev: _Flat, new: _Flat, bad: _BadRows) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    n_prev, n_new = prev.size, new.size
    lengths = prev.lengths + new.lengths
    item_off = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=item_off[1:])
    items = np.zeros((fl.ITEM_COLS, n_prev + n_new), np.int64)  # one column per item
    starts = item_off[:-1]
    dest_prev = np.arange(n_prev, dtype=np.int64) - np.repeat(
        prev.offsets()[:-1] - starts, prev.lengths
    )
    dest_new = np.arange(n_new, dtype=np.int64) - np.repeat(
        new.offsets()[:-1] - starts - prev.lengths, new.lengths
    )
    id_parts: list[pa.Array] = []
    if n_prev:
        columns, values = _item_fields(prev, "seq", bad)
        for col, name in _PREV_ITEM_STATE:
            columns.append(col)
            values.append(_field_ints(prev, name, bad))
        columns.append(fl.I_SRC)
        values.append(np.arange(n_prev, dtype=np.int64))
        _scatter_items(items, dest_prev, columns, values)
        id_parts.append(prev.field("item_id").cast(pa.string()))
        bad.elements(prev, np.asarray(prev.structs.is_null(), dtype=bool))  # type: ignore[union-attr]
    if n_new:
        columns, values = _item_fields(new, "entry_seq", bad)
        unpaid = {fl.U_FEE: fl.I_FEE, fl.U_INT: fl.I_INT, fl.U_PRIN: fl.I_PRIN}
        for col, amount_col in unpaid.items():  # a new item owes all of its amounts
            columns.append(col)
            values.append(values[columns.index(amount_col)])
        columns.append(fl.I_SRC)
        values.append(n_prev + np.arange(n_new, dtype=np.int64))
        _scatter_items(items, dest_new, columns, values)
        id_parts.append(new.field("item_id").cast(pa.string()))
        bad.elements(new, np.asarray(new.structs.is_null(), dtype=bool))  # type: ignore[union-attr]
    ids = pa.concat_arrays(id_parts) if id_parts else pa.array([], pa.string())
    if ids.null_count:
        source = np.asarray(ids.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        rows = np.concatenate([prev.row_of, new.row_of])
        bad.mask[rows[source]] = True
    return item_off, items, ids


def _build_events(
    batch: pa.RecordBatch, bad: _BadRows
) -> tuple[_Flat, np.ndarray, _Flat, np.ndarray, _Flat, np.ndarray]:
    pay = _flatten(batch, "payments")
    pays = np.zeros((pay.size, fl.PAY_COLS), np.int64)
    if pay.size:
        pays[:, fl.P_DATE] = _field_ints(pay, "value_date", bad)
        pays[:, fl.P_AMOUNT] = _field_ints(pay, "amount_fen", bad)
        pays[:, fl.P_SEQ] = _field_ints(pay, "entry_seq", bad)
        pays[:, fl.P_KEPT] = 1
        pays[:, fl.P_SRC] = np.arange(pay.size)
        bad.elements(pay, np.asarray(pay.field("payment_id").is_null(), dtype=bool))
    rev = _flatten(batch, "reversals")
    revs = np.zeros((rev.size, fl.REV_COLS), np.int64)
    if rev.size:
        revs[:, fl.R_DATE] = _field_ints(rev, "value_date", bad)
        revs[:, fl.R_SRC] = np.arange(rev.size)
        bad.elements(rev, np.asarray(rev.field("payment_id").is_null(), dtype=bool))
    wv = _flatten(batch, "waivers")
    waivers = np.zeros((wv.size, fl.WAIVER_COLS), np.int64)
    if wv.size:
        waivers[:, fl.W_DATE] = _field_ints(wv, "value_date", bad)
        waivers[:, fl.W_AMOUNT] = _field_ints(wv, "amount_fen", bad)
        waivers[:, fl.W_SEQ] = _field_ints(wv, "entry_seq", bad)
        component = _codes(wv.field("component"), COMPONENTS)
        bad.elements(wv, component < 0)
        waivers[:, fl.W_COMP] = np.maximum(component, 0)
    for flat in (pay, rev, wv):
        if flat.structs is not None and flat.structs.null_count:
            bad.elements(flat, np.asarray(flat.structs.is_null(), dtype=bool))
    return pay, pays, rev, revs, wv, waivers


def _resume_state(
    batch: pa.RecordBatch, accts: np.ndarray, resume: np.ndarray, bad: _BadRows
) -> None:
    """The previous snapshot's account state of the rows that resume."""
    for col, name in _PREV_ACCOUNT:
        values, nulls = _ints(batch.column(name))
        accts[:, col] = values
        bad.rows(None if nulls is None else nulls & resume)
    accts[:, fl.A_RUNSTART] = _day_column(batch, "prev_run_start")
    accts[:, fl.A_CHARGED] = _day_column(batch, "prev_charged_off_on")
    for col, name, names in (
        (fl.A_BCN, "prev_bucket_cn", CN_BUCKETS),
        (fl.A_BUS, "prev_bucket_us", US_BUCKETS),
    ):
        codes = _codes(batch.column(name), names)
        bad.rows((codes < 0) & resume)
        accts[:, col] = np.maximum(codes, 0)


def prepare(batch: pa.RecordBatch, config: KernelConfig) -> KernelInputs:
    """Flatten ``batch`` into the compiled kernel's matrices (see the module docstring)."""
    n = batch.num_rows
    bad = _BadRows(n)
    accts = np.zeros((n, fl.ACCT_COLS), np.int64)
    resume = np.zeros(n, dtype=bool)
    has_prev = batch.schema.get_field_index("prev_status") >= 0  # every resumed row has one
    if config.previous is not None and has_prev:
        resume = ~np.asarray(batch.column("prev_status").is_null(), dtype=bool)
        _resume_state(batch, accts, resume, bad)
    accts[:, fl.A_RESUME] = resume
    prev = _flatten(batch, "prev_items") if resume.any() else _empty_flat(n)
    bad.rows(~resume & (prev.lengths > 0))  # item states without an account state: as the reference
    new = _flatten(batch, "items")
    bad.rows(new.lengths > MAX_ITEMS_PER_ACCOUNT)
    item_off, items, item_ids = _build_items(prev, new, bad)
    item_id_off, item_id_data = string_buffers(item_ids)
    items[fl.I_HASH] = fl.string_hashes(item_id_off, item_id_data)[items[fl.I_SRC]]
    pay, pays, rev, revs, wv, waivers = _build_events(batch, bad)
    bad.rows(pay.lengths + wv.lengths > MAX_EVENTS_PER_ACCOUNT)
    accts[:, fl.A_POL], policies = _policy_index(batch, config, bad)
    accts[:, fl.A_SKIP] = bad.mask
    pay_id_off, pay_id_data = string_buffers(pay.field("payment_id") if pay.size else pa.array([]))
    rev_id_off, rev_id_data = string_buffers(rev.field("payment_id") if rev.size else pa.array([]))
    return KernelInputs(
        accts=accts,
        item_off=item_off,
        items=items,
        item_ids=item_ids,
        item_id_off=item_id_off,
        item_id_data=item_id_data,
        pay_off=pay.offsets(),
        pays=pays,
        pay_id_off=pay_id_off,
        pay_id_data=pay_id_data,
        rev_off=rev.offsets(),
        revs=revs,
        rev_id_off=rev_id_off,
        rev_id_data=rev_id_data,
        waiver_off=wv.offsets(),
        waivers=waivers,
        policies=policies,
        as_of=day_number(config.as_of),
        previous=fl.NO_DAY if config.previous is None else day_number(config.previous),
    )

"""Differential tests: the compiled kernel equals the Python reference kernel, row for row.

Random accounts (both products, random policies: grace 0–5, tolerance, every allocation order,
late fees, principal-and-interest base, a write-off small enough to be reached, accrual after
write-off both ways, minimums) with adversarial events (many same-day payments, payments before
the due date, waivers of every component, reversals dated before and after ``as_of``, repeated
payment ids) are turned into the nested Arrow rows the batch hands the kernel; then
``run_batch_fast`` must equal ``run_batch`` exactly, for rebuild rows and for resume rows
(resumed from the Python kernel's own snapshot of an earlier day).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from overdue.domain.policy import COMPONENTS, PenaltyBase, Policy, Product, resolve_policy
from overdue.portfolio.eod_inputs import PREV_COLUMNS
from overdue.portfolio.fast_kernel import _in_item_order, run_batch_fast
from overdue.portfolio.kernel import (
    KERNEL_ENV,
    SNAPSHOT_SCHEMA,
    KernelConfig,
    batch_kernel,
    run_batch,
)

START = date(2025, 1, 1)

ITEM = pa.struct(
    [
        ("item_id", pa.string()),
        ("due_date", pa.date32()),
        ("principal_fen", pa.int64()),
        ("interest_fen", pa.int64()),
        ("fee_fen", pa.int64()),
        ("minimum_fen", pa.int64()),
        ("entry_seq", pa.int64()),
    ]
)
PAYMENT = pa.struct(
    [
        ("payment_id", pa.string()),
        ("value_date", pa.date32()),
        ("amount_fen", pa.int64()),
        ("entry_seq", pa.int64()),
    ]
)
WAIVER = pa.struct(
    [
        ("value_date", pa.date32()),
        ("component", pa.string()),
        ("amount_fen", pa.int64()),
        ("approver", pa.string()),
        ("entry_seq", pa.int64()),
    ]
)
REVERSAL = pa.struct(
    [("payment_id", pa.string()), ("value_date", pa.date32()), ("entry_seq", pa.int64())]
)
REBUILD_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("customer_id", pa.string()),
        ("product", pa.string()),
        ("policy", pa.string()),
        ("items", pa.list_(ITEM)),
        ("payments", pa.list_(PAYMENT)),
        ("waivers", pa.list_(WAIVER)),
        ("reversals", pa.list_(REVERSAL)),
    ]
)
RESUME_SCHEMA = pa.schema(
    [
        *REBUILD_SCHEMA,
        *[pa.field(f"prev_{name}", SNAPSHOT_SCHEMA.field(name).type) for name in PREV_COLUMNS],
        pa.field("prev_items", SNAPSHOT_SCHEMA.field("items").type),
    ]
)


# -- generators -----------------------------------------------------------------------------


def random_policy(rng: random.Random, name: str, product: str) -> Policy:
    grace = rng.choice([0, 0, 1, 3, 5])
    return resolve_policy(
        Product(product),
        grace_days=grace,
        tolerance=Decimal(rng.choice(["0.00", "0.00", "0.05", "1.00", "0.999", "10.00"])),
        penalty_daily_rate=Decimal(
            rng.choice(["0.0005", "0.00082164", "0.00060", "0", "0.01", "0.123456789", "0.5"])
        ),
        penalty_base=rng.choice(list(PenaltyBase)),
        allocation_order=tuple(rng.sample(COMPONENTS, 4)),
        write_off_dpd=rng.choice([grace + 1, grace + 7, 31, 61, 120, 180]),
        accrue_after_write_off=rng.random() < 0.5,
        late_fee=Decimal(rng.choice(["0.00", "30.00", "0.01", "5.55"])),
        name=name,
    )


def random_policies(rng: random.Random) -> dict[tuple[str, str], Policy]:
    policies = {}
    for k in range(rng.randint(1, 4)):
        product = rng.choice(["revolving", "installment"])
        policies[(f"p{k}", product)] = random_policy(rng, f"p{k}", product)
    return policies


@dataclass
class Events:
    """One account's generated events, as the nested rows' dicts."""

    items: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    waivers: list[dict[str, Any]]
    reversals: list[dict[str, Any]]


class AccountFactory:
    """Random accounts within ``span`` days of ``START``; ``entry_seq`` is a global sequence."""

    def __init__(self, rng: random.Random, span: int) -> None:
        self.rng = rng
        self.span = span
        self.seq = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def day(self, low: int, high: int) -> date:
        return START + timedelta(days=self.rng.randint(low, high))

    def amount(self, typical: int) -> int:
        rng = self.rng
        kind = rng.random()
        if kind < 0.15:
            return rng.randint(0, 120)  # around a tolerance
        if kind < 0.25:
            return 0
        return rng.randint(1, typical)

    def events(self, account_id: str, *, first_day: int = 0, many: bool = False) -> Events:
        rng = self.rng
        n_items = rng.randint(33, 45) if many else rng.choice([0, 1, 1, 2, 3, 4, 6])
        items = []
        for k in range(n_items):
            principal = self.amount(300_000)
            minimum = rng.choice([None, None, principal // 10, rng.randint(0, 50_000)])
            items.append(
                {
                    "item_id": f"{account_id}-I{k}-{self.seq}",
                    "due_date": self.day(first_day, first_day + self.span),
                    "principal_fen": principal,
                    "interest_fen": self.amount(8_000),
                    "fee_fen": rng.choice([0, 0, 500, self.amount(3_000)]),
                    "minimum_fen": minimum,
                    "entry_seq": self.next_seq(),
                }
            )
        payments = self.payments(account_id, items, first_day, many)
        waivers = [
            {
                "value_date": self.day(first_day, first_day + self.span + 60),
                "component": rng.choice(COMPONENTS),
                "amount_fen": self.amount(40_000) or 1,
                "approver": "lead",
                "entry_seq": self.next_seq(),
            }
            for _ in range(rng.choice([0, 0, 1, 2, 3]))
        ]
        reversals = []
        for p in payments:
            if rng.random() < 0.12:
                when = p["value_date"] + timedelta(days=rng.randint(0, 20))
                reversals.append(
                    {
                        "payment_id": p["payment_id"],
                        "value_date": when,
                        "entry_seq": self.next_seq(),
                    }
                )
        for collection in (items, payments, waivers, reversals):
            rng.shuffle(collection)  # nested collections arrive unordered (as from Spark)
        return Events(items, payments, waivers, reversals)

    def payments(
        self, account_id: str, items: list[dict[str, Any]], first_day: int, many: bool
    ) -> list[dict[str, Any]]:
        rng = self.rng
        payments: list[dict[str, Any]] = []
        for k in range(rng.randint(30, 40) if many else rng.choice([0, 1, 2, 3, 5, 8])):
            if payments and rng.random() < 0.3:
                when = payments[-1]["value_date"]  # several payments on one day
            elif items and rng.random() < 0.3:
                when = rng.choice(items)["due_date"] - timedelta(days=rng.randint(0, 5))
            else:
                when = self.day(first_day - 10, first_day + self.span + 90)
            if items and rng.random() < 0.2:
                item = rng.choice(items)
                amount = item["principal_fen"] + item["interest_fen"] + item["fee_fen"]
            else:
                amount = self.amount(150_000)
            payment_id = f"{account_id}-P{k}"
            if payments and rng.random() < 0.05:
                payment_id = payments[0]["payment_id"]  # an id booked twice
            payments.append(
                {
                    "payment_id": payment_id,
                    "value_date": when,
                    "amount_fen": amount,
                    "entry_seq": self.next_seq(),
                }
            )
        return payments


def account_row(
    account_id: str, key: tuple[str, str], events: Events, prev: dict[str, Any] | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "account_id": account_id,
        "customer_id": f"C-{account_id}",
        "product": key[1],
        "policy": key[0],
        "items": events.items or None,  # the batch's left joins give null for no events
        "payments": events.payments or None,
        "waivers": events.waivers or None,
        "reversals": events.reversals or None,
    }
    if prev is not None:
        row.update({f"prev_{name}": prev[name] for name in PREV_COLUMNS})
        # collected back from the items side table: null for an account without item states
        row["prev_items"] = prev["items"] or None
    return row


@dataclass
class Book:
    batch: pa.RecordBatch
    policies: dict[tuple[str, str], Policy]
    factory: AccountFactory
    due_dates: list[date]

    def near_a_due_date(self, default: date) -> date:
        """A date in or just after some item's grace window (provisional penalties show)."""
        if not self.due_dates:
            return default
        rng = self.factory.rng
        return rng.choice(self.due_dates) + timedelta(days=rng.randint(0, 6))


def rebuild_batch(seed: int, n_accounts: int, *, many: bool = False) -> Book:
    rng = random.Random(seed)
    policies = random_policies(rng)
    factory = AccountFactory(rng, span=rng.choice([20, 90, 200]))
    rows = []
    for _ in range(n_accounts):
        account_id = f"A{rng.randint(0, 10 * n_accounts):05d}"  # ids may repeat: rows keep order
        key = rng.choice(sorted(policies))
        rows.append(account_row(account_id, key, factory.events(account_id, many=many)))
    due_dates = [i["due_date"] for r in rows for i in r["items"] or []]
    batch = pa.RecordBatch.from_pylist(rows, schema=REBUILD_SCHEMA)
    return Book(batch, policies, factory, due_dates)


def assert_same(batch: pa.RecordBatch, config: KernelConfig) -> pa.RecordBatch:
    expected = run_batch(batch, config)
    got = run_batch_fast(batch, config)
    assert got.schema == expected.schema
    got_rows, expected_rows = got.to_pylist(), expected.to_pylist()
    for g, e in zip(got_rows, expected_rows, strict=True):
        diff = {k: (g[k], e[k]) for k in e if g[k] != e[k]}
        assert not diff, f"{e['account_id']} at {config.as_of}: {diff}"
    assert got.equals(expected)
    return expected


# -- the differential properties ------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10**9),
    horizon=st.integers(-5, 400),
    near_due=st.booleans(),
    presorted=st.booleans(),
)
def test_rebuild_rows_equal_the_python_kernel(
    seed: int, horizon: int, near_due: bool, presorted: bool
) -> None:
    book = rebuild_batch(seed, 25)
    as_of = START + timedelta(days=horizon)
    if near_due:
        as_of = book.near_a_due_date(as_of)
    batch = book.batch
    if presorted:  # as the end-of-day inputs come
        batch = pa.Table.from_batches([batch]).sort_by("account_id").combine_chunks()
        batch = batch.to_batches()[0]
    assert_same(batch, KernelConfig(as_of=as_of, previous=None, policies=book.policies))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10**9),
    horizon=st.integers(0, 300),
    gap=st.integers(1, 12),
    with_new_events=st.booleans(),
)
def test_resume_rows_equal_the_python_kernel(
    seed: int, horizon: int, gap: int, with_new_events: bool
) -> None:
    book = rebuild_batch(seed, 20)
    batch, policies, factory = book.batch, book.policies, book.factory
    previous = START + timedelta(days=horizon)
    if gap % 2:
        previous = book.near_a_due_date(previous)
    as_of = previous + timedelta(days=gap)
    snapshot = run_batch(batch, KernelConfig(as_of=previous, previous=None, policies=policies))
    rng = random.Random(seed + 1)
    rows = []
    for prev in snapshot.to_pylist():
        key = (prev["policy"], prev["product"])
        events = Events([], [], [], [])
        if with_new_events:
            # events after the snapshot, and (rarely in a real batch) some on or before it
            factory.span = gap + 2
            first_day = (previous - START).days - 1
            events = factory.events(prev["account_id"], first_day=first_day)
            if rng.random() < 0.5:
                events.reversals = []  # the batch replays accounts with reversals instead
        row = account_row(prev["account_id"], key, events, prev)
        if rng.random() < 0.05:
            row["prev_items"] = None  # no previous state: the kernel starts the account afresh
            row["prev_status"] = None
        rows.append(row)
    resume = pa.RecordBatch.from_pylist(rows, schema=RESUME_SCHEMA)
    config = KernelConfig(as_of=as_of, previous=previous, policies=policies)
    assert_same(resume, config)
    # replayed accounts in an incremental run: rebuild rows, transitions after ``previous`` only
    assert_same(batch, config)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10**9), horizon=st.integers(30, 300))
def test_long_unsorted_segments_equal_the_python_kernel(seed: int, horizon: int) -> None:
    """More than 32 items and payments per account: the merge-sort and hashed-id paths."""
    as_of = START + timedelta(days=horizon)
    book = rebuild_batch(seed, 3, many=True)
    assert_same(book.batch, KernelConfig(as_of=as_of, previous=None, policies=book.policies))


# -- rows the compiled kernel hands to the Python kernel -------------------------------------


def _outcome(run: Any, batch: pa.RecordBatch, config: KernelConfig) -> object:
    try:
        return run(batch, config).to_pylist()
    except Exception as exc:  # the same exception type is the same behaviour here
        return type(exc)


def _one_account_batch(edit: Any, seed: int = 3) -> tuple[pa.RecordBatch, KernelConfig]:
    as_of = START + timedelta(days=150)
    book = rebuild_batch(seed, 6)
    rows = book.batch.to_pylist()
    edit(rows)
    return pa.RecordBatch.from_pylist(rows, schema=REBUILD_SCHEMA), KernelConfig(
        as_of=as_of, previous=None, policies=book.policies
    )


def _set_huge_amounts(rows: list[dict[str, Any]]) -> None:
    for item in rows[1]["items"] or []:
        item["principal_fen"] = 10**17  # no int64 proof: the Python kernel takes the account


def _add_item(rows: list[dict[str, Any]], **changes: Any) -> None:
    template = {
        "item_id": "X",
        "due_date": START,
        "principal_fen": 100,
        "interest_fen": 0,
        "fee_fen": 0,
        "minimum_fen": None,
        "entry_seq": 10**6,
    }
    rows[2]["items"] = [*(rows[2]["items"] or []), {**template, **changes}]


BAD_ROWS = {
    "huge amounts": _set_huge_amounts,
    "unknown policy": lambda rows: rows[0].update(policy="nope"),
    "duplicate item id": lambda rows: [_add_item(rows), _add_item(rows)],
    "null due date": lambda rows: _add_item(rows, due_date=None),
    "negative minimum": lambda rows: _add_item(rows, minimum_fen=-5),
    "negative principal": lambda rows: _add_item(rows, principal_fen=-5),
    "unknown waiver component": lambda rows: rows[3].update(
        waivers=[
            {
                "value_date": START,
                "component": "tip",
                "amount_fen": 5,
                "approver": "x",
                "entry_seq": 1,
            }
        ]
    ),
    "negative payment": lambda rows: rows[4].update(
        payments=[{"payment_id": "N", "value_date": START, "amount_fen": -100, "entry_seq": 1}]
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_rows_the_compiled_kernel_leaves_out_behave_as_in_the_python_kernel(case: str) -> None:
    batch, config = _one_account_batch(BAD_ROWS[case])
    fast, slow = _outcome(run_batch_fast, batch, config), _outcome(run_batch, batch, config)
    assert fast == slow
    if case == "huge amounts":
        assert isinstance(slow, list), "big amounts are valid: the Python kernel computes them"


def test_batches_the_compiled_kernel_leaves_out_behave_as_in_the_python_kernel() -> None:
    batch, config = _one_account_batch(lambda rows: rows[2].update(account_id=None))
    assert _outcome(run_batch_fast, batch, config) == _outcome(run_batch, batch, config)
    no_waivers = batch.drop_columns(["waivers"])
    assert _outcome(run_batch_fast, no_waivers, config) is KeyError
    assert _outcome(run_batch, no_waivers, config) is KeyError


def test_an_empty_batch_gives_an_empty_snapshot_batch() -> None:
    empty = pa.RecordBatch.from_pylist([], schema=REBUILD_SCHEMA)
    config = KernelConfig(as_of=START, previous=None, policies={})
    assert run_batch_fast(empty, config).equals(run_batch(empty, config))


# -- the switch and the compile cache --------------------------------------------------------


def test_the_kernel_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KERNEL_ENV, raising=False)
    assert batch_kernel() is run_batch_fast
    monkeypatch.setenv(KERNEL_ENV, "python")
    assert batch_kernel() is run_batch
    monkeypatch.setenv(KERNEL_ENV, "cobol")
    with pytest.raises(ValueError, match="OVERDUE_KERNEL"):
        batch_kernel()


def test_the_compile_cache_defaults_to_a_user_cache_dir(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env["HOME"] = str(tmp_path)
    code = "import os, overdue.portfolio.fast_ledger; print(os.environ['NUMBA_CACHE_DIR'])"
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == str(tmp_path / ".cache" / "overdue" / "numba")
    (tmp_path / "a-file").write_text("")
    env["HOME"] = str(tmp_path / "a-file" / "home")  # no cache folder can be made there
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip().startswith(tempfile.gettempdir()), shown.stdout
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == str(tmp_path / "mine"), "a set NUMBA_CACHE_DIR is kept"


@settings(deadline=None)  # the first example loads the compiled kernel
@given(st.permutations(range(6)))
@example(list(range(6)))
def test_item_ids_follow_the_kernels_item_order(order: list[int]) -> None:
    """The output ids are the input ids taken in the kernel's order; the identity order hands
    the input ids on as they are (no copy)."""
    ids = pa.array([f"item-{k}" for k in range(6)])
    out = _in_item_order(ids, np.asarray(order, np.int64))
    assert out.to_pylist() == [f"item-{k}" for k in order]
    if order == sorted(order):
        assert out is ids

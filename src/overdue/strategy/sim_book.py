"""The simulator's book: a twin book cut at the simulation's first day, its people and flags.

The twin (``overdue.twin.generate``) writes a book of ``history + horizon`` months. Everything
customers *pay* from the first simulated day on is removed (payments, waivers, reversals booked
on or after that day): in the simulation the response model decides who pays, day by day. What
*falls due* stays (loan installments are known at booking; revolving bills are the twin's).
Each strategy then runs on its own identical copy of the cut book.

Compliance flags (do-not-contact, dispute, hardship …) are drawn per customer from the seed
(shares in ``FLAG_SHARES``, assumptions) and change during the run: a complaint can end in an
opt-out of the channel that caused it (a STOP / 退订 reply, or "do not call me").
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio.book_layout import PARTITION_PREFIX
from overdue.twin.customers import TYPE_LABELS
from overdue.twin.generate import TwinSpec, generate_book
from overdue.twin.output import LATENT_FILE, TRUTH_DIR
from overdue.twin.response import CHANNELS, uniforms

HISTORY_MONTHS: Final = 6
PAID_TABLES: Final = ("payments", "waivers", "reversals")
FLAG_SHARES: Final = {  # share of customers with the flag at the start (assumptions)
    "do_not_contact": 0.003,
    "dispute": 0.004,
    "hardship": 0.010,
    "vulnerable": 0.005,
    "deceased": 0.0005,
    "bankruptcy": 0.0005,
    "cease_communication": 0.002,
}
OPT_OUT_SHARE: Final = 0.01  # per channel (assumption)
OPT_OUT_AFTER_COMPLAINT: Final = 0.5  # P(opt-out of that channel | complaint) (assumption)
FLAG_COLUMNS: Final = (*FLAG_SHARES, *(f"opt_out_{c}" for c in CHANNELS))


def book_months(days: int) -> int:
    """Months the twin must cover: the history plus the simulated days (and a month's margin)."""
    assert days >= 1
    return HISTORY_MONTHS + math.ceil((days + 1) / 28) + 1


def first_sim_day(spec: TwinSpec) -> date:
    month = spec.start.month - 1 + HISTORY_MONTHS
    return date(spec.start.year + month // 12, month % 12 + 1, 1)


def make_base_book(accounts: int, days: int, seed: int, out: Path) -> tuple[date, Path]:
    """Generate the twin book and cut it at the first simulated day; returns (that day, book)."""
    spec = TwinSpec(accounts=accounts, months=book_months(days), seed=seed)
    start = first_sim_day(spec)
    generate_book(spec, out, replace=True)
    cut_payments(out, start)
    return start, out


def cut_payments(book: Path, start: date) -> None:
    """Remove what customers paid (or got waived / reversed) booked on or after ``start``."""
    for name in PAID_TABLES:
        folder = book / name
        if not folder.is_dir():
            continue
        for part in sorted(folder.iterdir()):
            if part.name.startswith(PARTITION_PREFIX):
                day = date.fromisoformat(part.name.removeprefix(PARTITION_PREFIX))
                if day >= start:
                    shutil.rmtree(part)


def copy_book(base: Path, out: Path) -> Path:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    return out


@dataclass(frozen=True)
class People:
    """Accounts (sorted by id) and their customers, with the hidden truth the simulator needs."""

    account_id: pa.Array
    account_customer: npt.NDArray[np.int64]  # index into the customer arrays
    customer_id: pa.Array  # sorted
    customer_key: npt.NDArray[np.int64]  # stable integer per customer (random draws)
    latent_type: npt.NDArray[np.int64]
    time_zone: pa.Array
    language: pa.Array

    @property
    def n_accounts(self) -> int:
        return len(self.account_id)

    @property
    def n_customers(self) -> int:
        return len(self.customer_id)


def customer_keys(ids: pa.Array) -> npt.NDArray[np.int64]:
    """A stable integer per customer id: the digits of twin ids (``C000000123`` → 123)."""
    digits = pc.replace_substring_regex(ids, "[^0-9]", "")
    try:
        return np.asarray(pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False))
    except pa.ArrowInvalid:  # not twin ids: hash them
        import zlib

        return np.array([zlib.crc32(s.encode()) for s in ids.to_pylist()], dtype=np.int64)


def load_people(book: Path) -> People:
    customers = pq.read_table(book / "customers.parquet").sort_by("customer_id")
    accounts = pq.read_table(book / "accounts.parquet", columns=["account_id", "customer_id"])
    accounts = accounts.sort_by("account_id")
    latent = pq.read_table(book / TRUTH_DIR / LATENT_FILE)
    label_index = {label: i for i, label in enumerate(TYPE_LABELS)}
    latent_by_customer = dict(
        zip(latent["customer_id"].to_pylist(), latent["latent_type"].to_pylist(), strict=True)
    )
    ids = customers["customer_id"].combine_chunks()
    kinds = np.array([label_index[latent_by_customer[c]] for c in ids.to_pylist()], np.int64)
    position = pc.index_in(accounts["customer_id"], value_set=ids)
    assert position.null_count == 0, "every account's customer is in customers.parquet"
    return People(
        account_id=accounts["account_id"].combine_chunks(),
        account_customer=np.asarray(position.to_numpy(zero_copy_only=False), dtype=np.int64),
        customer_id=ids,
        customer_key=customer_keys(ids),
        latent_type=kinds,
        time_zone=customers["time_zone"].combine_chunks(),
        language=customers["language"].combine_chunks(),
    )


def initial_flags(people: People, seed: int, start: date) -> dict[str, npt.NDArray[np.bool_]]:
    """Each customer's compliance flags on the first day (deterministic for the seed)."""
    flags: dict[str, npt.NDArray[np.bool_]] = {}
    day = start.toordinal()
    for stream, name in enumerate(FLAG_COLUMNS):
        share = FLAG_SHARES.get(name, OPT_OUT_SHARE)
        flags[name] = uniforms(seed, day, people.customer_key, 500 + stream) < share
    return flags


def flags_table(people: People, flags: dict[str, npt.NDArray[np.bool_]]) -> pa.Table:
    columns: dict[str, pa.Array] = {"customer_id": people.customer_id}
    for name in FLAG_COLUMNS:
        columns[name] = pa.array(flags[name])
    return pa.table(columns)


def day_range(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]

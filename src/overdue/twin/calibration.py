"""Calibrate the twin against the real panel ``credit_record.csv``: monthly roll-rate matrices.

States are the panel's codes. ``0`` … ``5`` are 30-day steps of days past due, ``C`` a loan paid
off, ``X`` no loan that month. The panel's README reads ``0`` as "1–29 DPD", but ``0`` is 86 % of
the open-account transitions out of ``0`` and the panel has no other code for an open account
that is up to date (``C`` is absorbing: nothing leaves it), so ``0`` must also hold current
accounts: we read it as the US cycle bucket *current* (0–29 DPD) and map the twin the same way.

The twin's month-end states come from the reference engine
(:func:`overdue.domain.engine.account_state`) run on a sample of the written book, with the policy
named in ``accounts.policy``: DPD 0–29 → ``0``, 30–59 → ``1``, …, 150+ → ``5``; an installment
loan with nothing owed and nothing scheduled → ``C``; a revolving line with nothing owed → ``X``.
Months before an account opens are not in the panel (as in the real one).
"""

from __future__ import annotations

import io
import zipfile
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from overdue.config.policies import build_policy, load_preset
from overdue.domain.engine import (
    Account,
    AccountState,
    DueItem,
    Payment,
    Reversal,
    Waiver,
    account_state,
    effective_payments,
    ledger_state,
    start_ledger,
)
from overdue.domain.money import from_fen
from overdue.domain.policy import Policy, Product

STATES: Final = ("0", "1", "2", "3", "4", "5", "C", "X")
ACTIVE_STATES: Final = STATES[:6]
MAX_SAMPLE: Final = 100_000
CURED: Final = ("0", "C", "X")  # back to 0–29 DPD, or nothing owed any more
KEY_RATES: Final = (
    ("0–29 → 30–59 (0→1)", "0", ("1",)),
    ("30–59 → 60–89 (1→2)", "1", ("2",)),
    ("60–89 → 90–119 (2→3)", "2", ("3",)),
    ("90–119 → 120–149 (3→4)", "3", ("4",)),
    ("30–59 stays (1→1)", "1", ("1",)),
    ("cure 30–59 → 0–29/C/X", "1", CURED),
    ("cure 60–89 → 0–29/C/X", "2", CURED),
    ("cure 90–119 → 0–29/C/X", "3", CURED),
)


@dataclass(frozen=True)
class RollMatrix:
    """Transition counts between consecutive months, rows and columns in ``STATES`` order."""

    counts: npt.NDArray[np.int64]

    def rate(self, source: str, targets: Iterable[str]) -> float | None:
        row = self.counts[STATES.index(source)]
        total = int(row.sum())
        if total == 0:
            return None
        return float(sum(int(row[STATES.index(t)]) for t in targets)) / total

    def known_rate(self, source: str, targets: Iterable[str]) -> float:
        """:meth:`rate` for a state known to have pairs (raises ``ValueError`` otherwise)."""
        value = self.rate(source, targets)
        if value is None:
            raise ValueError(f"no transitions start in state {source!r}")
        return value

    def row_total(self, source: str) -> int:
        return int(self.counts[STATES.index(source)].sum())

    def rates(self) -> npt.NDArray[np.float64]:
        totals = self.counts.sum(axis=1, keepdims=True)
        return np.divide(self.counts, totals, out=np.zeros(self.counts.shape), where=totals > 0)


def transitions(codes: npt.NDArray[np.str_]) -> RollMatrix:
    """Counts from a (accounts × months) grid of codes; ``""`` means no row that month."""
    index = {s: i for i, s in enumerate(STATES)}
    lookup = np.vectorize(lambda c: index.get(c, -1), otypes=[np.int64])
    numeric = lookup(codes) if codes.size else np.zeros(codes.shape, dtype=np.int64)
    before, after = numeric[:, :-1].ravel(), numeric[:, 1:].ravel()
    ok = (before >= 0) & (after >= 0)
    flat = before[ok] * len(STATES) + after[ok]
    counts = np.bincount(flat, minlength=len(STATES) ** 2).reshape(len(STATES), len(STATES))
    return RollMatrix(counts.astype(np.int64))


# -- the real panel ---------------------------------------------------------------------------


def real_matrix(path: Path) -> RollMatrix:
    """Roll-rate counts of ``credit_record.csv`` (inside ``credit_record.zip`` or plain)."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            member = next(n for n in archive.namelist() if n.lower().endswith(".csv"))
            frame = pd.read_csv(io.BytesIO(archive.read(member)), dtype={"STATUS": str})
    else:
        frame = pd.read_csv(path, dtype={"STATUS": str})
    frame = frame.sort_values(["ID", "MONTHS_BALANCE"])
    same = frame["ID"].to_numpy()[1:] == frame["ID"].to_numpy()[:-1]
    months = frame["MONTHS_BALANCE"].to_numpy()
    consecutive = same & (months[1:] == months[:-1] + 1)
    status = frame["STATUS"].astype(str).to_numpy()
    index = {s: i for i, s in enumerate(STATES)}
    codes = np.array([index.get(s, -1) for s in status], dtype=np.int64)
    before, after = codes[:-1][consecutive], codes[1:][consecutive]
    ok = (before >= 0) & (after >= 0)
    flat = before[ok] * len(STATES) + after[ok]
    counts = np.bincount(flat, minlength=len(STATES) ** 2).reshape(len(STATES), len(STATES))
    return RollMatrix(counts.astype(np.int64))


# -- state codes ------------------------------------------------------------------------------


def code_for(dpd: int, owes: bool, revolving: bool) -> str:
    if not owes:
        return "X" if revolving else "C"
    return STATES[min(5, dpd // 30)]


def generator_codes(
    dpd: npt.NDArray[np.int64], owes: npt.NDArray[np.bool_], revolving: npt.NDArray[np.bool_]
) -> npt.NDArray[np.str_]:
    """Codes from the generator's own month-end view (fast; for tuning only)."""
    bucket = np.array(STATES[:6])[np.clip(dpd // 30, 0, 5)]
    idle = np.where(revolving[:, None], "X", "C")
    codes = np.where(owes | (dpd > 0), bucket, idle)
    return np.where(dpd < 0, "", codes)


# -- the twin's book through the engine ----------------------------------------------------------


def month_ends(first: date, last: date) -> list[date]:
    ends = []
    day = first
    while day <= last:
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        ends.append(following - timedelta(days=1))
        day = following
    return ends


def _read_events(book: Path, name: str, accounts: pa.Array) -> pd.DataFrame:
    folder = book / name
    if not folder.exists():
        return pd.DataFrame()
    dataset = ds.dataset(folder, format="parquet", partitioning="hive")
    table = dataset.to_table(filter=pc.field("account_id").isin(accounts))
    frame = table.to_pandas()
    return frame.sort_values("entry_seq", kind="stable") if "entry_seq" in frame else frame


def _day(value: object) -> date:
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def engine_accounts(book: Path, account_ids: Sequence[str]) -> dict[str, tuple[Account, str]]:
    """Build the engine's inputs (and policy name) for each sampled account of a book."""
    wanted = pa.array(list(account_ids), type=pa.string())
    accounts = (
        pq.read_table(book / "accounts.parquet")
        .filter(pc.field("account_id").isin(wanted))
        .to_pandas()
    )
    items = _read_events(book, "due_items", wanted)
    payments = _read_events(book, "payments", wanted)
    waivers = _read_events(book, "waivers", wanted)
    reversals = _read_events(book, "reversals", wanted)

    def groups(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        if frame.empty:
            return {}
        return {str(k): g for k, g in frame.groupby("account_id", sort=False)}

    by_items, by_pay = groups(items), groups(payments)
    by_waive, by_rev = groups(waivers), groups(reversals)
    result: dict[str, tuple[Account, str]] = {}
    for row in accounts.itertuples(index=False):
        aid = str(row.account_id)
        account = Account(
            account_id=aid,
            product=Product(row.product),
            items=tuple(_items(by_items.get(aid))),
            payments=tuple(_payments(by_pay.get(aid))),
            waivers=tuple(_waivers(by_waive.get(aid))),
            reversals=tuple(_reversals(by_rev.get(aid))),
        )
        result[aid] = (account, str(row.policy))
    return result


def _items(frame: pd.DataFrame | None) -> list[DueItem]:
    if frame is None:
        return []
    out = []
    for r in frame.itertuples(index=False):
        minimum = None if pd.isna(r.minimum_fen) else from_fen(int(r.minimum_fen))
        out.append(
            DueItem(
                id=str(r.item_id),
                due_date=_day(r.due_date),
                principal=from_fen(int(r.principal_fen)),
                interest=from_fen(int(r.interest_fen)),
                fee=from_fen(int(r.fee_fen)),
                minimum=minimum,
            )
        )
    return out


def _payments(frame: pd.DataFrame | None) -> list[Payment]:
    if frame is None:
        return []
    return [
        Payment(id=str(r.payment_id), date=_day(r.value_date), amount=from_fen(int(r.amount_fen)))
        for r in frame.itertuples(index=False)
    ]


def _waivers(frame: pd.DataFrame | None) -> list[Waiver]:
    if frame is None:
        return []
    return [
        Waiver(
            date=_day(r.value_date),
            component=r.component,
            amount=from_fen(int(r.amount_fen)),
            approver=str(r.approver),
        )
        for r in frame.itertuples(index=False)
    ]


def _reversals(frame: pd.DataFrame | None) -> list[Reversal]:
    if frame is None:
        return []
    return [
        Reversal(payment_id=str(r.payment_id), date=_day(r.value_date))
        for r in frame.itertuples(index=False)
    ]


def states_at(account: Account, policy: Policy, ends: Sequence[date]) -> list[AccountState]:
    """The engine's state at each date of ``ends`` (ascending), in one pass over the days.

    Equal to ``account_state(account, policy, d)`` for each ``d``: the day loop is the engine's
    own; an account with reversals is recomputed per date because a reversal dated after ``d``
    must not remove its payment at ``d``.
    """
    if account.reversals:
        return [account_state(account, policy, d) for d in ends]
    ledger = start_ledger(account, policy)
    payments = effective_payments(account, ends[-1])
    pay_by_day: dict[date, list[Payment]] = defaultdict(list)
    for p in payments:
        pay_by_day[p.date].append(p)
    waive_by_day: dict[date, list[Waiver]] = defaultdict(list)
    for w in account.waivers:
        waive_by_day[w.date].append(w)
    starts = [i.due_date for i in account.items] + list(pay_by_day) + list(waive_by_day)
    states: list[AccountState] = []
    day = min(starts) if starts else ends[-1] + timedelta(days=1)
    for end in ends:
        while day <= end:
            ledger.run_day(day, pay_by_day.get(day, []), waive_by_day.get(day, []))
            day += timedelta(days=1)
        states.append(ledger_state(account.account_id, ledger, end))
    return states


def _owes(state: AccountState, account: Account, as_of: date) -> bool:
    """Anything owed or scheduled at ``as_of``, as known then.

    The book also holds later revolving bills (not yet stated at ``as_of``), so for revolving
    lines only bills due by ``as_of`` count, plus a rest revolved this month (it goes on the next
    bill). Loan installments are all known at booking: one due later means the loan is running.
    """
    known = [i for i in state.items if i.due_date <= as_of]
    if any(i.is_open for i in known):
        return True
    if account.product is Product.INSTALLMENT:
        return any(i.due_date > as_of for i in account.items)
    this_month = (as_of.year, as_of.month)
    return any(i.revolved > 0 and (i.due_date.year, i.due_date.month) == this_month for i in known)


def engine_codes(
    book: Path,
    account_ids: Sequence[str],
    first: date,
    last: date,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[str], npt.NDArray[np.str_], npt.NDArray[np.int64]]:
    """Month-end codes (and DPD) of each sampled account by the reference engine."""
    ends = month_ends(first, last)
    inputs = engine_accounts(book, account_ids)
    opened = _opened(book, list(inputs))
    policies: dict[tuple[str, str], Policy] = {}
    ids = sorted(inputs)
    codes = np.full((len(ids), len(ends)), "", dtype=object)
    dpd = np.full((len(ids), len(ends)), -1, dtype=np.int64)
    for row, aid in enumerate(ids):
        account, policy_name = inputs[aid]
        key = (policy_name, account.product.value)
        if key not in policies:
            policies[key] = build_policy(account.product, load_preset(policy_name))
        start = bisect_right(ends, opened[aid] - timedelta(days=1))
        live = ends[start:]
        if live:
            for col, state in enumerate(states_at(account, policies[key], live), start=start):
                owes = _owes(state, account, ends[col])
                revolving = account.product is Product.REVOLVING
                codes[row, col] = code_for(state.dpd, owes or state.dpd > 0, revolving)
                dpd[row, col] = state.dpd
        if progress is not None:
            progress(row + 1, len(ids))
    return ids, codes.astype(str), dpd


def _opened(book: Path, ids: list[str]) -> dict[str, date]:
    table = pq.read_table(book / "accounts.parquet", columns=["account_id", "opened_on"])
    table = table.filter(pc.field("account_id").isin(pa.array(ids, type=pa.string())))
    return {
        str(a): _day(d)
        for a, d in zip(
            table.column("account_id").to_pylist(),
            table.column("opened_on").to_pylist(),
            strict=True,
        )
    }


def sample_accounts(book: Path, size: int, seed: int) -> list[str]:
    ids = pq.read_table(book / "accounts.parquet", columns=["account_id"]).column(0).to_numpy()
    size = min(size, ids.size, MAX_SAMPLE)
    rng = np.random.default_rng(seed)
    return sorted(str(a) for a in rng.choice(ids, size=size, replace=False))


def key_rate_rows(
    matrices: dict[str, RollMatrix],
) -> list[tuple[str, dict[str, float | None]]]:
    return [
        (label, {name: m.rate(source, targets) for name, m in matrices.items()})
        for label, source, targets in KEY_RATES
    ]


def fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def markdown_report(matrices: dict[str, RollMatrix], command: str) -> str:
    """The comparison as Markdown: key rates, then each full matrix (rows 0–5)."""
    names = list(matrices)
    lines = [f"Produced by: `{command}`", "", "| rate | " + " | ".join(names) + " |"]
    lines.append("|---|" + "---|" * len(names))
    for label, values in key_rate_rows(matrices):
        lines.append(f"| {label} | " + " | ".join(fmt_rate(values[n]) for n in names) + " |")
    counts = " | ".join(str(matrices[n].row_total("0")) for n in names)
    lines.append(f"| pairs starting in 0 | {counts} |")
    for name, matrix in matrices.items():
        lines += ["", f"**{name}** (row = state at month t−1, share in each state at t)", ""]
        lines.append("| from \\ to | " + " | ".join(STATES) + " | pairs |")
        lines.append("|---|" + "---|" * (len(STATES) + 1))
        rates = matrix.rates()
        for i, state in enumerate(ACTIVE_STATES):
            cells = " | ".join(f"{100 * v:.1f}" for v in rates[i])
            lines.append(f"| {state} | {cells} | {matrix.row_total(state)} |")
    return "\n".join(lines) + "\n"

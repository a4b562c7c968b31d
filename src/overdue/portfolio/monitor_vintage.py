"""Vintage curves and first-payment default (FPD) from the snapshot history and the book.

Exact rules (docs/monitoring/measures.md, "Vintage" and "First-payment default"):

- Cohort = calendar month of the account's ``opened_on`` (the book's ``accounts.parquet``).
- Month-end snapshot of a month = its last snapshot. MOB k of cohort v = the month-end snapshot of
  month v + k; MOB 0 runs from the booking date to the end of the booking month. Every month from
  the first to the last must have a snapshot.
- An account whose booking month has no month-end snapshot showing it (booked before the history
  starts, or after that month's last snapshot) is left out of the vintage and counted in
  ``excluded``; accounts of the snapshots missing from the book are counted in ``not_in_book``.
- ever-X+ at k: ``max_dpd >= X`` in the month-end snapshot of MOB k (``max_dpd`` is the worst DPD
  ever, so this is "reached X days by the end of month k"); current-X+ at k: ``dpd >= X`` there.
  Denominator: the accounts of the cohort that could be observed at k (v + k <= the last month).
- Shares by count and by original amount: ``principal_fen`` of an installment loan, the
  ``credit_limit_fen`` of a revolving account.
- Computed with ``overdue.portfolio.vintage.vintage`` on two panels of the same rows, one whose
  state is ``max_dpd`` (ever) and one whose state is ``dpd`` (current).

FPD-X: the account's first item (earliest due date, then booking order, among items with
something to pay) reached X days past due. Observable when due_date + X <= the last snapshot date
T. In the snapshot of T the first item reached X DPD when its penalty days are at least X + 1 (it
was paid on due + X + 1 or later; the engine counts penalty days = payment date - due date) or it
is still open (X days have passed). X must exceed every policy's grace days and stay below its
write-off DPD (penalty days stop counting at charge-off). Cohort = ``opened_on`` month.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from overdue.portfolio.monitor_entry import PolicyTerms, resolve_terms
from overdue.portfolio.monitor_history import History, MonitoringError, connect, load_history
from overdue.portfolio.panel import Panel, PanelError, PanelSpec, execute_rows
from overdue.portfolio.roll_rate import Number, ratio
from overdue.portfolio.vintage import DEFAULT_THRESHOLDS, Vintage, VintageRow, vintage

DEFAULT_FPD_DAYS = 30
BOOK_COLUMNS = ("account_id", "product", "opened_on", "principal_fen", "credit_limit_fen")


def month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def month_label(number: int) -> str:
    year, month0 = divmod(number, 12)
    return f"{year:04d}-{month0 + 1:02d}"


def read_book(con: BaseBackend, book: Path) -> ir.Table:
    """The book's accounts: account_id, opened_on, cohort (month number), original_fen."""
    path = book / "accounts.parquet"
    if not path.is_file():
        raise MonitoringError(f"{path}: no accounts table (is {book} a book? see data-contract)")
    table = con.read_parquet(str(path))
    missing = [c for c in BOOK_COLUMNS if c not in table.columns]
    if missing:
        raise MonitoringError(f"{path}: column {missing[0]!r} is missing")
    original = ibis.cases(
        (table["product"] == "installment", table.principal_fen),
        else_=table.credit_limit_fen,
    )
    out = table.select(
        b_account_id=table.account_id,
        opened_on=table.opened_on,
        cohort=table.opened_on.year().cast("int64") * 12
        + table.opened_on.month().cast("int64")
        - 1,
        original_fen=original.cast("int64"),
    )
    bad = execute_rows(out.filter(out.original_fen.isnull()).select("b_account_id").limit(1))
    if bad:
        raise MonitoringError(
            f"{path}: account {bad[0]['b_account_id']!r} has no original amount "
            "(principal_fen for installment, credit_limit_fen for revolving)"
        )
    return out


def check_months(history: History) -> None:
    months = [month_number(d) for d in history.dates]
    for before, after in itertools.pairwise(months):
        if after != before + 1:
            raise MonitoringError(
                f"{history.snapshot_dir}: no snapshot in {month_label(before + 1)}; "
                "vintage needs a snapshot in every month"
            )


@dataclass(frozen=True)
class FpdCohort:
    """FPD of one cohort: observable accounts, flagged ones, and the same by original amount."""

    cohort: str
    accounts: int
    fpd: int
    accounts_fen: int
    fpd_fen: int
    pending: int

    def __post_init__(self) -> None:
        assert 0 <= self.fpd <= self.accounts and 0 <= self.fpd_fen <= self.accounts_fen

    def rate(self, basis: str) -> float | None:
        if basis == "count":
            return ratio(self.fpd, self.accounts)
        return ratio(self.fpd_fen, self.accounts_fen)

    def to_json_dict(self) -> dict[str, object]:
        return {
            **self.__dict__,
            "fpd_rate": self.rate("count"),
            "fpd_rate_amount": self.rate("balance"),
        }


@dataclass(frozen=True)
class SnapshotVintage:
    months: tuple[str, ...]
    vintage: Vintage
    excluded: int
    not_in_book: int
    fpd_days: int
    fpd: tuple[FpdCohort, ...]

    def cell(self, cohort: str, mob: int) -> VintageRow | None:
        for row in self.vintage.by_cohort:
            if row.cohort == cohort and row.mob == mob:
                return row
        return None

    def share(self, kind: str, basis: str, dpd: int, row: VintageRow) -> float | None:
        """``kind`` "ever" or "current", X = ``dpd``, by count or by original amount."""
        if basis == "count":
            hits: Number = (row.ever if kind == "ever" else row.current)[dpd]
            return ratio(hits, row.accounts)
        weights = row.ever_weight if kind == "ever" else row.current_weight
        return ratio(weights[dpd], row.accounts_weight)

    def to_json_dict(self) -> dict[str, object]:
        return {
            "months": list(self.months),
            **self.vintage.to_json_dict(include_cohorts=True),
            "excluded": self.excluded,
            "not_in_book": self.not_in_book,
            "fpd_days": self.fpd_days,
            "fpd": [c.to_json_dict() for c in self.fpd],
        }


def snapshot_vintage(
    snapshot_dir: Path,
    book: Path,
    *,
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS,
    fpd_days: int = DEFAULT_FPD_DAYS,
    last: date | None = None,
    con: BaseBackend | None = None,
) -> SnapshotVintage:
    """Vintage (ever/current X+, by count and amount) and FPD by cohort; see the docstring."""
    con = con or connect()
    history = load_history(snapshot_dir, period="month", last=last, con=con)
    check_months(history)
    accounts = read_book(con, book)
    rows = history.accounts
    joined = rows.join(accounts, rows.account_id == accounts.b_account_id)
    firsts = rows.group_by(f_id=rows.account_id).agg(first_seen=rows.as_of.min())
    joined = joined.join(firsts, joined.account_id == firsts.f_id)
    seen = joined.first_seen
    first_month = seen.year().cast("int64") * 12 + seen.month().cast("int64") - 1
    kept = joined.filter(first_month == joined.cohort)
    ids = rows.select("account_id").distinct()
    not_in_book = ids.anti_join(accounts, ids.account_id == accounts.b_account_id).count()
    in_book = int(joined.account_id.nunique().execute())
    kept_accounts = int(kept.account_id.nunique().execute())
    merged = _vintage(kept, str(snapshot_dir), thresholds)
    terms = _fpd_terms(history, book, fpd_days)
    return SnapshotVintage(
        months=tuple(month_label(month_number(d)) for d in history.dates),
        vintage=merged,
        excluded=in_book - kept_accounts,
        not_in_book=int(not_in_book.execute()),
        fpd_days=fpd_days,
        fpd=fpd_by_cohort(history, accounts, terms, fpd_days),
    )


def _vintage(kept: ir.Table, source: str, thresholds: tuple[int, ...]) -> Vintage:
    spec = PanelSpec("account_id", "as_of", "state", "original_fen")
    parts = []
    for column in ("max_dpd", "dpd"):
        table = kept.select(
            "account_id", "as_of", "original_fen", state=kept[column].cast("string")
        )
        try:
            panel = Panel.from_table(table, spec, source=source)
            parts.append(vintage(panel, thresholds=thresholds))
        except PanelError as exc:
            raise MonitoringError(str(exc)) from None
    ever, current = parts
    return Vintage(
        thresholds=ever.thresholds,
        weighted=True,
        by_cohort=tuple(
            _merge(e, c) for e, c in zip(ever.by_cohort, current.by_cohort, strict=True)
        ),
        by_mob=tuple(_merge(e, c) for e, c in zip(ever.by_mob, current.by_mob, strict=True)),
    )


def _merge(ever: VintageRow, current: VintageRow) -> VintageRow:
    """Ever from the max_dpd panel, current from the dpd panel (same accounts and cells)."""
    assert (ever.cohort, ever.mob, ever.accounts) == (current.cohort, current.mob, current.accounts)
    return VintageRow(
        cohort=ever.cohort,
        mob=ever.mob,
        accounts=ever.accounts,
        observed=ever.observed,
        ever=ever.ever,
        current=current.current,
        accounts_weight=ever.accounts_weight,
        ever_weight=ever.ever_weight,
        current_weight=current.current_weight,
    )


def _fpd_terms(history: History, book: Path, days: int) -> dict[tuple[str, str], PolicyTerms]:
    terms = resolve_terms(history.policy_pairs(), book, str(history.snapshot_dir))
    for (name, _), term in terms.items():
        if not term.grace_days < days < term.write_off_dpd:
            raise MonitoringError(
                f"--fpd-days {days}: must exceed the grace days ({term.grace_days}) and stay "
                f"below the write-off DPD ({term.write_off_dpd}) of policy {name!r}"
            )
    return terms


def fpd_flags(history: History, terms: dict[tuple[str, str], PolicyTerms], days: int) -> ir.Table:
    """Ibis table: account_id, first_due_date, observable, fpd (see the module docstring)."""
    from overdue.portfolio.monitor_entry import terms_table

    items = history.items_at(history.latest)
    items = items.filter(items.principal_fen + items.interest_fen + items.fee_fen > 0)
    order = ibis.row_number().over(group_by=items.account_id, order_by=[items.due_date, items.seq])
    firsts = items.mutate(rank=order)
    firsts = firsts.filter(firsts["rank"] == 0)
    policies = terms_table(terms, history.latest)
    firsts = firsts.join(
        policies, [firsts.policy == policies.t_policy, firsts.product == policies.t_product]
    )
    unpaid = (
        firsts.unpaid_principal_fen
        + firsts.unpaid_interest_fen
        + firsts.unpaid_fee_fen
        + firsts.unpaid_penalty_fen
    )
    still_open = (unpaid > firsts.tolerance_fen) & ~firsts.closed_by_minimum.fill_null(False)
    observable = firsts.due_date <= ibis.literal(history.latest - timedelta(days=days))
    fpd = observable & ((firsts.penalty_days >= days + 1) | still_open)
    return firsts.select(
        "account_id", first_due_date=firsts.due_date, observable=observable, fpd=fpd
    )


def fpd_by_cohort(
    history: History,
    accounts: ir.Table,
    terms: dict[tuple[str, str], PolicyTerms],
    days: int,
) -> tuple[FpdCohort, ...]:
    flags = fpd_flags(history, terms, days)
    j = flags.join(accounts, flags.account_id == accounts.b_account_id)
    agg = j.group_by("cohort").agg(
        accounts=j.count(where=j.observable),
        fpd=j.count(where=j.fpd),
        accounts_fen=j.original_fen.sum(where=j.observable),
        fpd_fen=j.original_fen.sum(where=j.fpd),
        pending=j.count(where=~j.observable),
    )
    out = []
    for r in sorted(execute_rows(agg), key=lambda r: int(r["cohort"])):
        out.append(
            FpdCohort(
                cohort=month_label(int(r["cohort"])),
                accounts=int(r["accounts"]),
                fpd=int(r["fpd"]),
                accounts_fen=int(r["accounts_fen"] or 0),
                fpd_fen=int(r["fpd_fen"] or 0),
                pending=int(r["pending"]),
            )
        )
    return tuple(out)

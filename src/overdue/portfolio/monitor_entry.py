"""Entry rate (入催率) over the snapshot history: of what fell due in a period, how much went overdue.

Exact rule (docs/monitoring/measures.md, "Entry rate"):

- Period p (p >= 1) is (t_{p-1}, t_p] between consecutive chosen dates. The items *falling due* in
  p are the items with t_{p-1} < due_date <= t_p and something to pay (principal + interest + fee
  > 0), read from the snapshot of the last chosen date T (every item stays in the snapshots once
  known, closed or not).
- An item is *judged* when its grace window has closed by T: due_date + grace_days + 1 <= T
  (grace of the account's policy). Items not yet judged are reported as pending and left out of
  both numerator and denominator.
- A judged item *entered overdue* when it was not settled by the end of due_date + grace
  (domain.md §2, "Grace"). In the snapshot of T that is: ``penalty_days > 0`` (the engine resets
  penalty days to 0 when an item is settled within grace and counts on otherwise), or the item is
  still open (unpaid principal + interest + fee + penalty > the policy's tolerance, and not closed
  by its minimum payment). The second test covers items whose penalty does not accrue (they fell
  due after the account was charged off).
- Entry rate by count = items entered / items judged; by amount = (principal + interest + fee) of
  the items entered / of the items judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import ibis

from overdue.domain.money import to_fen
from overdue.portfolio.monitor_history import History, MonitoringError
from overdue.portfolio.panel import execute_rows
from overdue.portfolio.roll_rate import ratio

MAX_POLICIES = 1_000


@dataclass(frozen=True)
class PolicyTerms:
    """What the item-level rules need from an account's policy."""

    grace_days: int
    tolerance_fen: int
    write_off_dpd: int


def policy_terms(history: History, book: Path | None) -> dict[tuple[str, str], PolicyTerms]:
    """Terms of every (policy, product) in the last snapshot: the book's policies, or presets."""
    wanted = history.policy_pairs()
    if len(wanted) > MAX_POLICIES:
        raise MonitoringError(f"{history.snapshot_dir}: more than {MAX_POLICIES} policies")
    return resolve_terms(wanted, book, str(history.snapshot_dir))


def resolve_terms(
    wanted: list[tuple[str, str]], book: Path | None, source: str
) -> dict[tuple[str, str], PolicyTerms]:
    from overdue.config.policies import PolicyConfigError, build_policy, load_policy_source
    from overdue.domain.policy import Product
    from overdue.portfolio.eod import EodError, resolve_policies

    resolved = {}
    if book is not None:
        try:
            resolved = resolve_policies(book)
        except (EodError, OSError) as exc:
            raise MonitoringError(f"--book {book}: {exc}") from None
    terms: dict[tuple[str, str], PolicyTerms] = {}
    for name, product in wanted:
        policy = resolved.get((name, product))
        if policy is None:
            try:
                settings = load_policy_source(name)
                policy = build_policy(Product(product), settings, source=name)
            except (PolicyConfigError, ValueError) as exc:
                hint = "" if book else "; pass --book DATA_DIR for the book's own policies"
                raise MonitoringError(
                    f"{source}: policy {name!r} ({product}): {exc}{hint}"
                ) from None
        terms[(name, product)] = PolicyTerms(
            policy.grace_days, to_fen(policy.tolerance), policy.write_off_dpd
        )
    return terms


def terms_table(terms: dict[tuple[str, str], PolicyTerms], latest: date) -> ibis.Table:
    """Memtable: policy, product, grace_days, tolerance_fen, judged_until (last judged due date)."""
    keys = sorted(terms)
    return ibis.memtable(
        {
            "t_policy": [k[0] for k in keys],
            "t_product": [k[1] for k in keys],
            "grace_days": [terms[k].grace_days for k in keys],
            "tolerance_fen": [terms[k].tolerance_fen for k in keys],
            "judged_until": [latest - timedelta(days=terms[k].grace_days + 1) for k in keys],
        },
        schema={
            "t_policy": "string",
            "t_product": "string",
            "grace_days": "int64",
            "tolerance_fen": "int64",
            "judged_until": "date",
        },
    )


@dataclass(frozen=True)
class EntryRate:
    """Items falling due in (start, as_of]: judged, entered overdue, pending; amounts in fen."""

    start: str
    as_of: str
    items_due: int
    items_entered: int
    amount_due_fen: int
    amount_entered_fen: int
    items_pending: int
    amount_pending_fen: int

    def __post_init__(self) -> None:
        assert 0 <= self.items_entered <= self.items_due
        assert 0 <= self.amount_entered_fen <= self.amount_due_fen

    def rate(self, basis: str) -> float | None:
        if basis == "count":
            return ratio(self.items_entered, self.items_due)
        return ratio(self.amount_entered_fen, self.amount_due_fen)

    def to_json_dict(self) -> dict[str, object]:
        return {
            **self.__dict__,
            "entry_rate_count": self.rate("count"),
            "entry_rate_amount": self.rate("balance"),
        }


def entry_rates(
    history: History, terms: dict[tuple[str, str], PolicyTerms]
) -> tuple[EntryRate, ...]:
    """One ``EntryRate`` per chosen date after the first (see the module docstring)."""
    if len(history.dates) < 2:
        return ()
    items = history.items_at(history.latest)
    policies = terms_table(terms, history.latest)
    items = items.join(
        policies, [items.policy == policies.t_policy, items.product == policies.t_product]
    )
    periods = history.periods_table().rename(p_as_of="as_of")
    periods = periods.filter(periods.period >= 1)
    joined = items.join(
        periods, [items.due_date > periods.prev_as_of, items.due_date <= periods.p_as_of]
    )
    due_fen = joined.principal_fen + joined.interest_fen + joined.fee_fen
    unpaid = (
        joined.unpaid_principal_fen
        + joined.unpaid_interest_fen
        + joined.unpaid_fee_fen
        + joined.unpaid_penalty_fen
    )
    still_open = (unpaid > joined.tolerance_fen) & ~joined.closed_by_minimum.fill_null(False)
    judged = joined.due_date <= joined.judged_until
    entered = judged & ((joined.penalty_days > 0) | still_open)
    rows = joined.filter(due_fen > 0).mutate(due_fen=due_fen, judged=judged, entered=entered)
    agg = rows.group_by("period").agg(
        items_due=rows.count(where=rows.judged),
        items_entered=rows.count(where=rows.entered),
        amount_due_fen=rows.due_fen.sum(where=rows.judged),
        amount_entered_fen=rows.due_fen.sum(where=rows.entered),
        items_pending=rows.count(where=~rows.judged),
        amount_pending_fen=rows.due_fen.sum(where=~rows.judged),
    )
    found = {int(r["period"]): r for r in execute_rows(agg)}
    out = []
    for p in range(1, len(history.dates)):
        r = found.get(p, {})
        out.append(
            EntryRate(
                start=history.labels[p - 1],
                as_of=history.labels[p],
                **{
                    key: int(r.get(key) or 0)
                    for key in (
                        "items_due",
                        "items_entered",
                        "amount_due_fen",
                        "amount_entered_fen",
                        "items_pending",
                        "amount_pending_fen",
                    )
                },
            )
        )
    return tuple(out)

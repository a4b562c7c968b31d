"""Vintage curves over a panel (domain.md §3): ever-X+ and current-X+ shares by month on book.

Definitions (exact):

- The *cohort* of an account is the first period in which it appears in the panel (its booking
  month when the panel starts at booking; for a left-censored sample it is only the first *observed*
  month). Month on book ``k`` = period - cohort (MOB 0 is the cohort period itself).
- DPD of a row comes from its state through a ``dpd_map`` (e.g. credit_record's STATUS: ``0`` -> 1,
  ``1`` -> 30 ... ``5`` -> 150, ``C`` and ``X`` -> 0), or the state is itself a whole number of days.
- An account is *eligible* at MOB k when cohort + k <= the last period of the panel (it could have been
  observed at k). ``accounts`` at k counts the eligible accounts: that is the denominator of every share,
  whether or not the account still has a row at k (closed accounts stay in their cohort).
- ``ever[X]`` at k: eligible accounts with DPD >= X in some row with MOB <= k.
- ``current[X]`` at k: eligible accounts with a row at MOB k whose DPD >= X.
- ``observed`` at k: eligible accounts with a row at MOB k.
- With a weight column, every account weighs its weight at its cohort row (its original amount), and
  the ``*_weight`` fields add those weights up (shares by amount).

Rows are computed per (cohort, MOB) with one Ibis expression; the roll-up by MOB adds the cohorts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from overdue.portfolio.panel import Panel, PanelError, execute_rows
from overdue.portfolio.roll_rate import Number, ratio, total

DEFAULT_THRESHOLDS: tuple[int, ...] = (30, 60, 90)
CREDIT_RECORD_DPD_MAP: dict[str, int] = {
    "0": 1, "1": 30, "2": 60, "3": 90, "4": 120, "5": 150, "C": 0, "X": 0,
}  # fmt: skip
"""Kaggle credit_record STATUS -> lower bound of its DPD range (``5`` also holds write-offs)."""
MAX_MOB = 1200
MAX_THRESHOLDS = 20


def parse_dpd_map(text: str) -> dict[str, int]:
    """``"0=1,1=30,C=0"`` -> {"0": 1, "1": 30, "C": 0}; raises PanelError on a malformed entry."""
    mapping: dict[str, int] = {}
    for part in text.split(","):
        state, sep, days = part.partition("=")
        state, days = state.strip(), days.strip()
        if not sep or not state or not days.isdigit():
            raise PanelError(f"--dpd-map entry {part.strip()!r} is not STATE=DAYS (e.g. 1=30)")
        if state in mapping:
            raise PanelError(f"--dpd-map names state {state!r} twice")
        mapping[state] = int(days)
    return mapping


def parse_thresholds(text: str) -> tuple[int, ...]:
    """``"30,60,90"`` -> (30, 60, 90): distinct positive whole days, kept in the given order."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise PanelError(f"--thresholds {text!r} must be positive whole days such as 30,60,90")
    values = tuple(int(p) for p in parts)
    if len(set(values)) != len(values) or len(values) > MAX_THRESHOLDS:
        raise PanelError(f"--thresholds {text!r} repeats a value or has too many")
    return values


@dataclass(frozen=True)
class VintageRow:
    """One (cohort, MOB) cell, or one MOB over all cohorts (``cohort`` None)."""

    cohort: str | None
    mob: int
    accounts: int
    observed: int
    ever: dict[int, int]
    current: dict[int, int]
    accounts_weight: Number = 0
    ever_weight: dict[int, Number] = field(default_factory=dict)
    current_weight: dict[int, Number] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert 0 <= self.observed <= self.accounts
        for x, n in self.ever.items():
            assert self.current[x] <= n <= self.accounts, "current X+ implies ever X+"

    def to_json_dict(self, weighted: bool) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.cohort is not None:
            out["cohort"] = self.cohort
        out.update(mob=self.mob, accounts=self.accounts, observed=self.observed)
        for x in self.ever:
            out[f"ever_{x}_count"] = self.ever[x]
            out[f"ever_{x}"] = ratio(self.ever[x], self.accounts)
            out[f"current_{x}_count"] = self.current[x]
            out[f"current_{x}"] = ratio(self.current[x], self.accounts)
            if weighted:
                out[f"ever_{x}_amount"] = ratio(self.ever_weight[x], self.accounts_weight)
                out[f"current_{x}_amount"] = ratio(self.current_weight[x], self.accounts_weight)
        return out


@dataclass(frozen=True)
class Vintage:
    thresholds: tuple[int, ...]
    weighted: bool
    by_cohort: tuple[VintageRow, ...]
    by_mob: tuple[VintageRow, ...]

    def to_json_dict(self, *, include_cohorts: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "thresholds": list(self.thresholds),
            "weighted": self.weighted,
            "by_mob": [r.to_json_dict(self.weighted) for r in self.by_mob],
        }
        if include_cohorts:
            out["by_cohort"] = [r.to_json_dict(self.weighted) for r in self.by_cohort]
        return out


def dpd_expr(panel: Panel, dpd_map: Mapping[str, int] | None) -> ir.IntegerValue:
    """The DPD of each row: mapped from its state, or the state read as a whole number."""
    state = panel.table.state
    if dpd_map is not None:
        return state.substitute(dict(dpd_map), else_=ibis.null("int64")).cast("int64")
    return state.strip().try_cast("int64")


def _check_dpd(panel: Panel, dpd: ir.IntegerValue, dpd_map: Mapping[str, int] | None) -> None:
    table = panel.table.mutate(dpd=dpd)
    bad = table.filter(table.dpd.isnull() | (table.dpd < 0)).order_by("line").limit(1)
    found = execute_rows(bad.select("line", "state", "dpd"))
    if not found:
        return
    row = found[0]
    column = panel.spec.state_col
    if dpd_map is not None:
        reason = f"state {row['state']!r} in column {column!r} is not in --dpd-map"
    else:
        reason = f"state {row['state']!r} in column {column!r} is not a DPD number; use --dpd-map"
    raise PanelError(f"{panel.source}:{panel.where(row['line'])} {reason}")


def vintage_cells(
    panel: Panel,
    dpd_map: Mapping[str, int] | None,
    thresholds: Sequence[int],
    periods: tuple[int, int],
) -> ir.Table:
    """Ibis expression: one row per (cohort, mob) with eligible / observed / ever / current sums.

    ``periods`` = (first, last) period of the panel: the oldest cohort and the end of observation.
    """
    min_period, max_period = periods
    dpd = dpd_expr(panel, dpd_map)
    rows = panel.table.mutate(dpd=dpd)
    firsts = rows.group_by("account_id").agg(cohort=rows.period_index.min())
    joined = rows.join(firsts, "account_id")
    with_mob = joined.mutate(mob=joined.period_index - joined.cohort)
    w0 = with_mob.filter(with_mob.mob == 0).select(w_id=with_mob.account_id, w0=with_mob.weight)
    hits = {f"hit_{x}": with_mob.mob.min(where=with_mob.dpd >= x) for x in thresholds}
    accounts = with_mob.group_by(["account_id", "cohort"]).agg(**hits)
    accounts = accounts.join(w0, accounts.account_id == w0.w_id).drop("w_id")
    max_mob = max_period - min_period
    if max_mob > MAX_MOB:
        raise PanelError(f"{panel.source}: {max_mob} months on book is over the limit {MAX_MOB}")
    mobs = ibis.memtable({"k": list(range(max_mob + 1))}, schema={"k": "int64"})
    grid = accounts.cross_join(mobs)
    grid = grid.filter(grid.cohort + grid.k <= max_period)
    ever_aggs: dict[str, ir.Value] = {"accounts": grid.count(), "accounts_w": grid.w0.sum()}
    for x in thresholds:
        hit = grid[f"hit_{x}"] <= grid.k
        ever_aggs[f"ever_{x}"] = grid.count(where=hit)
        ever_aggs[f"ever_w_{x}"] = grid.w0.sum(where=hit)
    ever = grid.group_by(["cohort", "k"]).agg(**ever_aggs)
    current_rows = with_mob.join(w0, with_mob.account_id == w0.w_id)
    current_aggs: dict[str, ir.Value] = {"observed": current_rows.count()}
    for x in thresholds:
        now = current_rows.dpd >= x
        current_aggs[f"current_{x}"] = current_rows.count(where=now)
        current_aggs[f"current_w_{x}"] = current_rows.w0.sum(where=now)
    current = current_rows.group_by(["cohort", "mob"]).agg(**current_aggs).rename(c_cohort="cohort")
    return ever.left_join(current, [ever.cohort == current.c_cohort, ever.k == current.mob]).drop(
        "c_cohort", "mob"
    )


def vintage(
    panel: Panel,
    *,
    dpd_map: Mapping[str, int] | None = None,
    thresholds: Sequence[int] = DEFAULT_THRESHOLDS,
) -> Vintage:
    """Ever-X+ and current-X+ by (cohort, MOB) and by MOB over all cohorts."""
    chosen = tuple(int(x) for x in thresholds)
    if not chosen or any(x <= 0 for x in chosen) or len(set(chosen)) != len(chosen):
        raise PanelError(f"thresholds {list(chosen)} must be distinct positive days")
    _check_dpd(panel, dpd_expr(panel, dpd_map), dpd_map)
    table = panel.table
    span = execute_rows(table.agg(lo=table.period_index.min(), hi=table.period_index.max()))[0]
    if span["lo"] is None:  # an empty panel has an empty vintage
        return Vintage(chosen, panel.weighted, (), ())
    periods = (int(span["lo"]), int(span["hi"]))
    cells = vintage_cells(panel, dpd_map, chosen, periods).order_by(["cohort", "k"])
    by_cohort = tuple(_row(panel, r, chosen) for r in execute_rows(cells))
    return Vintage(chosen, panel.weighted, by_cohort, _roll_up(by_cohort, chosen))


def _nz(value: Number | None) -> Number:
    return 0 if value is None else value


def _row(panel: Panel, r: Mapping[str, object], thresholds: Sequence[int]) -> VintageRow:
    def num(key: str) -> Number:
        value = r[key]
        assert value is None or isinstance(value, int | float | Decimal), key
        return _nz(value)

    return VintageRow(
        cohort=panel.period_label(int(num("cohort"))),
        mob=int(num("k")),
        accounts=int(num("accounts")),
        observed=int(num("observed")),
        ever={x: int(num(f"ever_{x}")) for x in thresholds},
        current={x: int(num(f"current_{x}")) for x in thresholds},
        accounts_weight=num("accounts_w"),
        ever_weight={x: num(f"ever_w_{x}") for x in thresholds},
        current_weight={x: num(f"current_w_{x}") for x in thresholds},
    )


def _roll_up(cells: Sequence[VintageRow], thresholds: Sequence[int]) -> tuple[VintageRow, ...]:
    by_mob: dict[int, list[VintageRow]] = {}
    for cell in cells:
        by_mob.setdefault(cell.mob, []).append(cell)
    out = []
    for mob in sorted(by_mob):
        group = by_mob[mob]
        out.append(
            VintageRow(
                cohort=None,
                mob=mob,
                accounts=sum(c.accounts for c in group),
                observed=sum(c.observed for c in group),
                ever={x: sum(c.ever[x] for c in group) for x in thresholds},
                current={x: sum(c.current[x] for c in group) for x in thresholds},
                accounts_weight=total(c.accounts_weight for c in group),
                ever_weight={x: total(c.ever_weight[x] for c in group) for x in thresholds},
                current_weight={x: total(c.current_weight[x] for c in group) for x in thresholds},
            )
        )
    return tuple(out)

"""Monitoring measures over the end-of-day snapshot history (domain.md §3).

Exact definitions are in docs/monitoring/measures.md; in short, for the chosen dates t_0 < t_1 < …
(``monitor_history``), every measure by count and by balance (``balance_fen``: unpaid principal of
all items):

- bucket distribution per date, CN (M0…M7) and US (current…180+) schemes;
- roll-rate matrix of ``bucket_cn`` between consecutive chosen dates, per date and pooled, with
  ``roll_rate`` on a panel (id = account_id, period = date index, state = bucket_cn, weight =
  balance at t-1); cure rates (share of bucket i at t-1 that is M0 at t) from the same matrices;
- flow rates M_i -> M_i+1 (``flow_rates`` down the ladder M0…M7), per date and pooled, and the net
  flow to loss (their product); M7 is open-ended, so the flow into it counts only the accounts
  (balance) that were not in M7 at their previous date: without that, the M6 -> M7 "rate" would
  add up every account still in M7 and exceed 1;
- per-date figures: accounts, delinquent accounts and balance, total overdue, charge-offs (stock,
  new in the period, amounts) and recoveries after charge-off;
- entry rate (``monitor_entry``), vintage and first-payment default (``monitor_vintage``).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import ibis

from overdue.domain.buckets import CN_BUCKETS, US_BUCKETS
from overdue.portfolio.monitor_entry import EntryRate, entry_rates, policy_terms
from overdue.portfolio.monitor_history import History, MonitoringError, connect, load_history
from overdue.portfolio.monitor_vintage import DEFAULT_FPD_DAYS, SnapshotVintage, snapshot_vintage
from overdue.portfolio.panel import Panel, PanelError, PanelSpec, execute_rows
from overdue.portfolio.roll_rate import (
    FlowRates,
    Ladder,
    Number,
    PeriodFlows,
    RollRate,
    flow_rates,
    ratio,
    roll_rate,
    transitions,
)
from overdue.portfolio.vintage import DEFAULT_THRESHOLDS

BASES = ("count", "balance")
SCHEMES: dict[str, tuple[str, ...]] = {"cn": CN_BUCKETS, "us": US_BUCKETS}
CURRENT_BUCKET = "M0"
TOP_BUCKET = CN_BUCKETS[-1]
UNION_BATCH = 64
"""Dates whose roll-rate matrices are computed in one query."""
STAYED = f"{TOP_BUCKET} stayed"
DELINQUENT_STATUSES = ("overdue", "charged_off")


def check_basis(basis: str) -> None:
    if basis not in BASES:
        raise MonitoringError(f"basis {basis!r} must be one of: {', '.join(BASES)}")


# -- bucket distribution ------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """Accounts and balance per (date, bucket) of one scheme; rows are dates, columns buckets."""

    scheme: str
    buckets: tuple[str, ...]
    dates: tuple[str, ...]
    accounts: tuple[tuple[int, ...], ...]
    balance_fen: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        assert len(self.accounts) == len(self.dates) == len(self.balance_fen)
        assert all(len(r) == len(self.buckets) for r in (*self.accounts, *self.balance_fen))

    def values(self, basis: str) -> tuple[tuple[int, ...], ...]:
        check_basis(basis)
        return self.accounts if basis == "count" else self.balance_fen

    def shares(self, basis: str) -> list[list[float | None]]:
        return [[ratio(v, sum(row)) for v in row] for row in self.values(basis)]

    def share(self, basis: str, index: int, buckets: Collection[str]) -> float | None:
        """Share of date ``index`` (count or balance) in ``buckets`` together."""
        row = self.values(basis)[index]
        chosen = sum(v for b, v in zip(self.buckets, row, strict=True) if b in buckets)
        return ratio(chosen, sum(row))

    def to_json_dict(self) -> dict[str, object]:
        return {
            "scheme": self.scheme,
            "buckets": list(self.buckets),
            "dates": list(self.dates),
            "accounts": [list(r) for r in self.accounts],
            "balance_fen": [list(r) for r in self.balance_fen],
            "share_count": self.shares("count"),
            "share_balance": self.shares("balance"),
        }


def bucket_distribution(history: History, scheme: str) -> Distribution:
    """Accounts and balance by bucket of ``scheme`` ("cn" or "us") at every chosen date."""
    if scheme not in SCHEMES:
        raise MonitoringError(f"scheme {scheme!r} must be one of: {', '.join(SCHEMES)}")
    buckets = SCHEMES[scheme]
    t = history.accounts
    column = t[f"bucket_{scheme}"]
    agg = t.group_by([t.period, column.name("bucket")]).agg(
        accounts=t.count(), balance_fen=t.balance_fen.sum()
    )
    n, index = len(history.dates), {b: i for i, b in enumerate(buckets)}
    counts = [[0] * len(buckets) for _ in range(n)]
    balances = [[0] * len(buckets) for _ in range(n)]
    for row in execute_rows(agg):
        if row["bucket"] not in index:
            raise MonitoringError(
                f"{history.snapshot_dir}: bucket_{scheme} {row['bucket']!r} is not one of "
                f"{', '.join(buckets)}"
            )
        p, b = int(row["period"]), index[row["bucket"]]
        counts[p][b] = int(row["accounts"])
        balances[p][b] = int(row["balance_fen"])
    return Distribution(
        scheme,
        buckets,
        history.labels,
        tuple(tuple(r) for r in counts),
        tuple(tuple(r) for r in balances),
    )


# -- roll rates, cure rates and flow rates -------------------------------------------------------


def bucket_panel(history: History, *, weighted: bool, flow: bool = False) -> Panel:
    """The panel of ``bucket_cn`` by date index, weighted by balance or not (count).

    With ``flow``, a row in the open top bucket whose previous row is there too gets the state
    ``M7 stayed`` (outside the flow ladder), so that the flow into M7 counts new arrivals only.
    """
    table = history.accounts
    state = "bucket_cn"
    if flow:
        before = table.bucket_cn.lag().over(group_by=table.account_id, order_by=table.period)
        stayed = (table.bucket_cn == TOP_BUCKET) & (before == TOP_BUCKET).fill_null(False)
        table = table.mutate(flow_state=ibis.cases((stayed, STAYED), else_=table.bucket_cn))
        state = "flow_state"
    spec = PanelSpec("account_id", "period", state, "balance_fen" if weighted else None)
    try:
        return Panel.from_table(table, spec, source=str(history.snapshot_dir))
    except PanelError as exc:
        raise MonitoringError(str(exc)) from None


def count_view(matrix: RollRate) -> RollRate:
    """The same matrix with every pair weighing 1, so that ``rates`` are shares by count."""
    return RollRate(matrix.states, matrix.counts, matrix.counts)


@dataclass(frozen=True)
class RollRates:
    """Roll-rate matrices of bucket_cn, weights = balance at t-1: pooled and per date t."""

    pooled: RollRate
    by_date: tuple[tuple[str, RollRate], ...]

    def matrix(self, basis: str, at: str | None = None) -> RollRate:
        check_basis(basis)
        found = self.pooled if at is None else dict(self.by_date)[at]
        return count_view(found) if basis == "count" else found

    def rate(self, basis: str, from_state: str, to_state: str, at: str | None) -> float | None:
        m = self.matrix(basis, at)
        return m.rates[m.states.index(from_state)][m.states.index(to_state)]

    def cure_rate(self, basis: str, from_state: str, at: str | None) -> float | None:
        return self.matrix(basis, at).cure_rates([CURRENT_BUCKET])[from_state]

    def to_json_dict(self) -> dict[str, object]:
        def one(m: RollRate) -> dict[str, object]:
            return {
                "counts": [list(r) for r in m.counts],
                "balance_fen": [[int(w) for w in r] for r in m.weights],
                "rates_count": count_view(m).rates,
                "rates_balance": m.rates,
                "cure_count": count_view(m).cure_rates([CURRENT_BUCKET]),
                "cure_balance": m.cure_rates([CURRENT_BUCKET]),
            }

        return {
            "states": list(self.pooled.states),
            "pooled": one(self.pooled),
            "by_date": [{"as_of": at, **one(m)} for at, m in self.by_date],
        }


def roll_rates(history: History, panel: Panel | None = None) -> RollRates:
    """Pooled matrix over all consecutive dates, and one matrix per date t (pairs t-1 -> t).

    The pooled matrix is ``roll_rate`` on the whole panel; the matrix of date t is the same
    ``transitions`` expression on the panel cut to dates t-1 and t, run in batches of
    ``UNION_BATCH`` dates per query.
    """
    panel = panel or bucket_panel(history, weighted=True)
    states = tuple(CN_BUCKETS)
    pooled = roll_rate(panel, states)
    periods = list(range(1, len(history.dates)))
    by_date: list[tuple[str, RollRate]] = []
    for start in range(0, len(periods), UNION_BATCH):
        chunk = periods[start : start + UNION_BATCH]
        parts = [
            transitions(_window(panel, p), states).mutate(period=ibis.literal(p, "int64"))
            for p in chunk
        ]
        expr = parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]
        rows: dict[int, list[dict[str, object]]] = {p: [] for p in chunk}
        for row in execute_rows(expr):
            rows[int(str(row["period"]))].append(row)
        by_date.extend((history.labels[p], _matrix(states, rows[p])) for p in chunk)
    return RollRates(pooled, tuple(by_date))


def _window(panel: Panel, p: int) -> Panel:
    """The panel cut to dates p - 1 and p."""
    pair = panel.table.filter(panel.table.period_index.isin([p - 1, p]))
    return Panel(pair, panel.period_kind, panel.source, panel.spec, panel.row_word)


def _matrix(states: tuple[str, ...], rows: list[dict[str, object]]) -> RollRate:
    """A RollRate from ``transitions`` rows (from_state, to_state, pairs, weight)."""
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    counts = [[0] * n for _ in range(n)]
    weights: list[list[Number]] = [[0] * n for _ in range(n)]
    for row in rows:
        i, j = index[str(row["from_state"])], index[str(row["to_state"])]
        pairs, weight = row["pairs"], row["weight"]
        assert isinstance(pairs, int) and isinstance(weight, int | float | Decimal)
        counts[i][j] = pairs
        weights[i][j] = weight
    return RollRate(states, tuple(map(tuple, counts)), tuple(map(tuple, weights)))


@dataclass(frozen=True)
class Flows:
    """Flow rates down M0…M7 by count and by balance; periods labelled by their date t."""

    count: FlowRates
    balance: FlowRates

    def of(self, basis: str) -> FlowRates:
        check_basis(basis)
        return self.count if basis == "count" else self.balance

    def rate(self, basis: str, from_bucket: str, at: str | None) -> float | None:
        flows = self.of(basis)
        steps = flows.steps if at is None else _period(flows, at).steps
        return next(s.rate for s in steps if s.from_bucket == from_bucket)

    def net_flow(self, basis: str, at: str | None) -> float | None:
        flows = self.of(basis)
        if at is None:
            return flows.net_flow_to_loss
        rates = [s.rate for s in _period(flows, at).steps]
        return None if any(r is None for r in rates) else math.prod(r or 0.0 for r in rates)

    def to_json_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for basis in BASES:
            data = self.of(basis).to_json_dict()
            for period in data["by_period"]:  # type: ignore[attr-defined]
                period["net_flow_to_loss"] = self.net_flow(basis, period["period"])
            out[basis] = data
        return out


def _period(flows: FlowRates, at: str) -> PeriodFlows:
    for period in flows.by_period:
        if period.period == at:
            return period
    raise KeyError(at)


def _relabel(flows: FlowRates, labels: tuple[str, ...]) -> FlowRates:
    periods = tuple(PeriodFlows(labels[int(p.period)], p.steps) for p in flows.by_period)
    return FlowRates(flows.ladder, flows.steps, periods)


def flows(history: History) -> Flows:
    """Flow rates down M0…M7; the flow into the open top bucket M7 counts new arrivals only."""
    ladder = Ladder(tuple((b,) for b in CN_BUCKETS))
    weighted = bucket_panel(history, weighted=True, flow=True)
    counted = bucket_panel(history, weighted=False, flow=True)
    return Flows(
        _relabel(flow_rates(counted, ladder), history.labels),
        _relabel(flow_rates(weighted, ladder), history.labels),
    )


# -- per-date figures: portfolio, delinquency, charge-off and recovery ---------------------------


@dataclass(frozen=True)
class DayFigures:
    """The portfolio at one chosen date; ``new_*`` and ``recovered_fen`` cover (t-1, t]."""

    as_of: str
    accounts: int
    active: int
    delinquent: int
    balance_fen: int
    delinquent_balance_fen: int
    total_overdue_fen: int
    charged_off: int
    charged_off_balance_fen: int
    charged_off_owed_fen: int
    recovered_total_fen: int
    new_charge_offs: int | None
    new_charge_off_fen: int | None
    recovered_fen: int | None

    def delinquent_rate(self, basis: str) -> float | None:
        check_basis(basis)
        if basis == "count":
            return ratio(self.delinquent, self.active)
        return ratio(self.delinquent_balance_fen, self.balance_fen)

    @property
    def recovery_rate(self) -> float | None:
        """Recovered after charge-off / (recovered + still owed), charged-off accounts at t."""
        return ratio(self.recovered_total_fen, self.recovered_total_fen + self.charged_off_owed_fen)

    def to_json_dict(self) -> dict[str, object]:
        return {
            **self.__dict__,
            "delinquent_rate_count": self.delinquent_rate("count"),
            "delinquent_rate_balance": self.delinquent_rate("balance"),
            "recovery_rate": self.recovery_rate,
        }


def day_figures(history: History) -> tuple[DayFigures, ...]:
    t = history.accounts.join(history.periods_table().select("period", "prev_as_of"), "period")
    delinquent = t.status.isin(list(DELINQUENT_STATUSES))
    charged = t.status == "charged_off"
    new = (t.charged_off_on > t.prev_as_of) & (t.charged_off_on <= t.as_of)
    agg = t.group_by("period").agg(
        accounts=t.count(),
        active=t.count(where=t.status != "settled"),
        delinquent=t.count(where=delinquent),
        balance_fen=t.balance_fen.sum(),
        delinquent_balance_fen=t.balance_fen.sum(where=delinquent),
        total_overdue_fen=t.total_overdue_fen.sum(),
        charged_off=t.count(where=charged),
        charged_off_balance_fen=t.balance_fen.sum(where=charged),
        charged_off_owed_fen=t.owed_fen.sum(where=charged),
        recovered_total_fen=t.recovered_after_charge_off_fen.sum(),
        new_charge_offs=t.count(where=new.fill_null(False)),
        new_charge_off_fen=t.balance_fen.sum(where=new.fill_null(False)),
    )
    rows = {int(r["period"]): r for r in execute_rows(agg)}
    out: list[DayFigures] = []
    for p, label in enumerate(history.labels):
        r = rows[p]

        def fen(key: str, r: Mapping[str, object] = r) -> int:
            value = r[key]
            assert value is None or isinstance(value, int)
            return 0 if value is None else int(value)

        first = p == 0
        recovered = fen("recovered_total_fen")
        out.append(
            DayFigures(
                as_of=label,
                accounts=fen("accounts"),
                active=fen("active"),
                delinquent=fen("delinquent"),
                balance_fen=fen("balance_fen"),
                delinquent_balance_fen=fen("delinquent_balance_fen"),
                total_overdue_fen=fen("total_overdue_fen"),
                charged_off=fen("charged_off"),
                charged_off_balance_fen=fen("charged_off_balance_fen"),
                charged_off_owed_fen=fen("charged_off_owed_fen"),
                recovered_total_fen=recovered,
                new_charge_offs=None if first else fen("new_charge_offs"),
                new_charge_off_fen=None if first else fen("new_charge_off_fen"),
                recovered_fen=None if first else recovered - out[-1].recovered_total_fen,
            )
        )
    return tuple(out)


# -- everything at once ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Monitoring:
    """Every measure over one snapshot history (``vintage`` only with the book)."""

    snapshot_dir: str
    period: str
    dates: tuple[str, ...]
    days: tuple[DayFigures, ...]
    distribution: dict[str, Distribution]
    roll: RollRates
    flows: Flows
    entry: tuple[EntryRate, ...]
    vintage: SnapshotVintage | None

    def index(self, at: str) -> int:
        return self.dates.index(at)

    def to_json_dict(self) -> dict[str, object]:
        return {
            "format": "overdue-monitoring/1",
            "snapshot_dir": self.snapshot_dir,
            "period": self.period,
            "dates": list(self.dates),
            "days": [d.to_json_dict() for d in self.days],
            "distribution": {k: v.to_json_dict() for k, v in self.distribution.items()},
            "roll_rates": self.roll.to_json_dict(),
            "flow_rates": self.flows.to_json_dict(),
            "entry_rates": [e.to_json_dict() for e in self.entry],
            "vintage": None if self.vintage is None else self.vintage.to_json_dict(),
        }


def monitor(
    snapshot_dir: Path,
    *,
    period: str = "day",
    book: Path | None = None,
    first: date | None = None,
    last: date | None = None,
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS,
    fpd_days: int = DEFAULT_FPD_DAYS,
) -> Monitoring:
    """Compute every measure over the snapshots of ``snapshot_dir`` (see the module docstring)."""
    con = connect()
    history = load_history(snapshot_dir, period=period, first=first, last=last, con=con)
    weighted = bucket_panel(history, weighted=True)
    terms = policy_terms(history, book)
    vintage = None
    if book is not None:
        vintage = snapshot_vintage(
            snapshot_dir, book, thresholds=thresholds, fpd_days=fpd_days, last=last, con=con
        )
    return Monitoring(
        snapshot_dir=str(snapshot_dir),
        period=period,
        dates=history.labels,
        days=day_figures(history),
        distribution={s: bucket_distribution(history, s) for s in SCHEMES},
        roll=roll_rates(history, weighted),
        flows=flows(history),
        entry=entry_rates(history, terms),
        vintage=vintage,
    )

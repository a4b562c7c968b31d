"""Roll-rate matrices, cure rates and flow rates over a panel (domain.md §3).

Definitions (exact):

- A *pair* is an account with a row at period t - 1 and a row at period t ("consecutive" means
  exactly t - 1: the integer one less, or the previous calendar month; a gap breaks the pair).
- ``counts[i][j]`` = number of pairs in state i at t - 1 and state j at t, summed over all t.
- ``rates[i][j]``  = weight at t - 1 of those pairs / weight at t - 1 of all pairs starting in state
  i (the account is also present at t). A row without pairs (or with zero weight) is all ``None``.
- With an explicit state list, rows in other states are dropped before pairing, so an account whose
  row at t is in an excluded state is "not present" at t. Without one, the states are all distinct
  values sorted as strings (Unicode code-point order: ``"0" < "10" < "9" < "C" < "X"``).
- Cure rate of bucket i = share (by weight at t - 1) of the pairs starting in bucket i that are in a
  current state at t, i.e. the sum of the current columns of row i of ``rates``.
- Flow rate i -> i+1 = weight in bucket i+1 at t / weight in bucket i at t - 1 (aggregate, not
  account-tracked), pooled over every t whose t - 1 is also a period of the panel; the net flow to
  loss is the product of the flow rates down the ladder.

All heavy work is one Ibis expression (DuckDB by default, PySpark when the panel's table lives
there); only the small aggregated result is brought into Python.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from overdue.portfolio.panel import Panel, PanelError, execute_rows

Number = int | float | Decimal
MAX_STATES = 200
"""A roll-rate matrix with more states than this is almost surely a wrong column."""


def ratio(numerator: Number, denominator: Number) -> float | None:
    """numerator / denominator as a float, or None when the denominator is zero."""
    if denominator == 0:
        return None
    if isinstance(numerator, Decimal) or isinstance(denominator, Decimal):
        return float(Decimal(numerator) / Decimal(denominator))
    return numerator / denominator


def total(values: Iterable[Number]) -> Number:
    """Sum of weights; exact for ints and Decimals (a Decimal anywhere makes the sum a Decimal)."""
    items = list(values)
    if any(isinstance(v, Decimal) for v in items):
        return sum((Decimal(v) for v in items), start=Decimal(0))
    plain: list[int | float] = [v for v in items if not isinstance(v, Decimal)]
    return sum(plain, start=0)


@dataclass(frozen=True)
class RollRate:
    """A roll-rate matrix: ``counts`` and ``weights`` (at t - 1) indexed [from state][to state]."""

    states: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    weights: tuple[tuple[Number, ...], ...]

    def __post_init__(self) -> None:
        n = len(self.states)
        assert len(set(self.states)) == n, "states must be distinct"
        assert len(self.counts) == n and all(len(row) == n for row in self.counts)
        assert len(self.weights) == n and all(len(row) == n for row in self.weights)
        assert all(c >= 0 for row in self.counts for c in row)

    @property
    def pairs(self) -> int:
        """Number of (account, t) pairs counted."""
        return sum(sum(row) for row in self.counts)

    @property
    def rates(self) -> list[list[float | None]]:
        out: list[list[float | None]] = []
        for row in self.weights:
            row_total = total(row)
            out.append([ratio(w, row_total) for w in row])
        return out

    def cure_rates(self, current_states: Collection[str]) -> dict[str, float | None]:
        """For every non-current state i: share of its pairs that are in a current state at t."""
        unknown = [s for s in current_states if s not in self.states]
        if unknown:
            raise PanelError(f"current state {unknown[0]!r} is not one of {list(self.states)}")
        columns = [j for j, s in enumerate(self.states) if s in current_states]
        cures: dict[str, float | None] = {}
        for i, state in enumerate(self.states):
            if state in current_states:
                continue
            row = self.weights[i]
            cured = total(row[j] for j in columns)
            cures[state] = ratio(cured, total(row))
        return cures

    def to_json_dict(self) -> dict[str, object]:
        """The CLI's JSON contract: states, counts (ints), rates (floats or null)."""
        return {
            "states": list(self.states),
            "counts": [list(row) for row in self.counts],
            "rates": self.rates,
        }


def transitions(panel: Panel, states: Sequence[str] | None = None) -> ir.Table:
    """Ibis expression: from_state, to_state, pairs, weight (at t - 1), one row per observed pair.

    With ``states``, rows in other states are left out before pairing.
    """
    table = panel.table
    if states is not None:
        table = table.filter(table.state.isin(list(states)))
    before = table.select(
        from_id=table.account_id,
        next_period=table.period_index + 1,
        from_state=table.state,
        from_weight=table.weight,
    )
    after = table.select(to_id=table.account_id, to_period=table.period_index, to_state=table.state)
    joined = before.join(
        after, [before.from_id == after.to_id, before.next_period == after.to_period]
    )
    return joined.group_by(["from_state", "to_state"]).agg(
        pairs=joined.count(), weight=joined.from_weight.sum()
    )


def distinct_states(panel: Panel) -> tuple[str, ...]:
    """All states of the panel, sorted as strings (Unicode code points)."""
    rows = execute_rows(panel.table.select("state").distinct())
    found = sorted(str(r["state"]) for r in rows)
    if len(found) > MAX_STATES:
        raise PanelError(
            f"{panel.source}: column {panel.spec.state_col!r} has {len(found)} distinct values "
            f"(more than {MAX_STATES}); is it really a state?"
        )
    return tuple(found)


def roll_rate(panel: Panel, states: Sequence[str] | None = None) -> RollRate:
    """The roll-rate matrix of ``panel`` over ``states`` (default: all states, sorted)."""
    if states is None:
        chosen = distinct_states(panel)
    else:
        chosen = tuple(str(s) for s in states)
        if not chosen or any(not s for s in chosen):
            raise PanelError(f"the list of states {','.join(chosen)!r} has an empty entry")
        if len(set(chosen)) != len(chosen):
            raise PanelError(f"the list of states repeats a state: {','.join(chosen)}")
        if len(chosen) > MAX_STATES:
            raise PanelError(f"more than {MAX_STATES} states")
    index = {s: i for i, s in enumerate(chosen)}
    n = len(chosen)
    counts = [[0] * n for _ in range(n)]
    weights: list[list[Number]] = [[0] * n for _ in range(n)]
    for row in execute_rows(transitions(panel, chosen)):
        i, j = index[row["from_state"]], index[row["to_state"]]
        counts[i][j] = int(row["pairs"])
        weights[i][j] = row["weight"]
    return RollRate(
        states=chosen,
        counts=tuple(tuple(r) for r in counts),
        weights=tuple(tuple(r) for r in weights),
    )


# ---------------------------------------------------------------------------------------------
# Bucket ladders: flow rates, cure rates, net flow to loss


@dataclass(frozen=True)
class Ladder:
    """Buckets from current to the worst, each a group of panel states (e.g. C+X, 0, 1, ... 5)."""

    groups: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if len(self.groups) < 2:
            raise PanelError("a bucket ladder needs at least two buckets")
        seen: set[str] = set()
        for group in self.groups:
            if not group or any(not s for s in group):
                raise PanelError("a bucket in the ladder is empty")
            for state in group:
                if state in seen:
                    raise PanelError(f"state {state!r} is in two buckets of the ladder")
                seen.add(state)

    @classmethod
    def parse(cls, text: str) -> Ladder:
        """``"C+X,0,1,2"`` -> buckets (C, X), (0,), (1,), (2,): commas between, '+' within."""
        groups = [tuple(s.strip() for s in part.split("+")) for part in text.split(",")]
        return cls(tuple(groups))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple("+".join(group) for group in self.groups)

    def relabel(self, panel: Panel) -> Panel:
        """The panel with each state replaced by its bucket label; states outside are dropped."""
        mapping = {
            state: label
            for group, label in zip(self.groups, self.labels, strict=True)
            for state in group
        }
        table = panel.table
        bucket = table.state.substitute(mapping, else_=ibis.null("string"))
        relabeled = table.mutate(state=bucket)
        return Panel(
            relabeled.filter(relabeled.state.notnull()),
            panel.period_kind,
            panel.source,
            panel.spec,
            panel.row_word,
        )


def cure_rates(panel: Panel, ladder: Ladder) -> dict[str, float | None]:
    """Cure rate of every bucket above the first: share of it at t - 1 in the first bucket at t."""
    matrix = roll_rate(ladder.relabel(panel), ladder.labels)
    return matrix.cure_rates([ladder.labels[0]])


@dataclass(frozen=True)
class FlowStep:
    """One rung of the ladder: weight in ``to_bucket`` at t over weight in ``from_bucket`` at t-1."""

    from_bucket: str
    to_bucket: str
    numerator: Number
    denominator: Number

    @property
    def rate(self) -> float | None:
        return ratio(self.numerator, self.denominator)


@dataclass(frozen=True)
class PeriodFlows:
    """The flow steps of one period t (with t - 1 in the panel)."""

    period: str
    steps: tuple[FlowStep, ...]


@dataclass(frozen=True)
class FlowRates:
    """Flow rates pooled over all periods, per period, and the net flow to loss."""

    ladder: tuple[str, ...]
    steps: tuple[FlowStep, ...]
    by_period: tuple[PeriodFlows, ...]

    @property
    def net_flow_to_loss(self) -> float | None:
        """Product of the pooled flow rates down the ladder (None if any is undefined)."""
        rates = [step.rate for step in self.steps]
        if any(r is None for r in rates):
            return None
        return math.prod(r for r in rates if r is not None)

    def to_json_dict(self) -> dict[str, object]:
        def step_dict(step: FlowStep) -> dict[str, object]:
            return {"from": step.from_bucket, "to": step.to_bucket, "rate": step.rate}

        return {
            "ladder": list(self.ladder),
            "flow_rates": [step_dict(s) for s in self.steps],
            "net_flow_to_loss": self.net_flow_to_loss,
            "by_period": [
                {"period": p.period, "flow_rates": [step_dict(s) for s in p.steps]}
                for p in self.by_period
            ],
        }


def bucket_totals(panel: Panel, ladder: Ladder) -> ir.Table:
    """Ibis expression: period_index, state (bucket label), accounts, weight."""
    table = ladder.relabel(panel).table
    return table.group_by(["period_index", "state"]).agg(
        accounts=table.count(), weight=table.weight.sum()
    )


def flow_rates(panel: Panel, ladder: Ladder) -> FlowRates:
    """Flow rates i -> i+1 down ``ladder``, pooled and per period (see the module docstring)."""
    periods = {
        int(r["period_index"]) for r in execute_rows(panel.table.select("period_index").distinct())
    }
    totals: dict[tuple[int, str], Number] = {}
    for row in execute_rows(bucket_totals(panel, ladder)):
        totals[(int(row["period_index"]), row["state"])] = row["weight"]
    labels = ladder.labels
    steps_of_pairs = [(labels[i], labels[i + 1]) for i in range(len(labels) - 1)]
    pooled_num: list[Number] = [0] * len(steps_of_pairs)
    pooled_den: list[Number] = [0] * len(steps_of_pairs)
    by_period: list[PeriodFlows] = []
    for t in sorted(p for p in periods if p - 1 in periods):
        steps = []
        for k, (low, high) in enumerate(steps_of_pairs):
            num = totals.get((t, high), 0)
            den = totals.get((t - 1, low), 0)
            pooled_num[k] = total([pooled_num[k], num])
            pooled_den[k] = total([pooled_den[k], den])
            steps.append(FlowStep(low, high, num, den))
        by_period.append(PeriodFlows(panel.period_label(t), tuple(steps)))
    pooled = tuple(
        FlowStep(low, high, pooled_num[k], pooled_den[k])
        for k, (low, high) in enumerate(steps_of_pairs)
    )
    return FlowRates(labels, pooled, tuple(by_period))

"""WoE scorecard with optbinning: monotone optimal bins, one bin per sentinel code and for missing
values, logistic regression on WoE, points scaled by PDO and base odds.

Training uses optbinning's ``BinningProcess`` and ``Scorecard``; the fitted card is then compiled
into plain arrays (``CompiledScorecard``: split points, category groups, points per bin) so that
scoring is a vectorised lookup with no optbinning call. A test proves the compiled card gives
optbinning's own scores.

Points: score = offset + factor · ln(good:bad odds), factor = PDO / ln 2,
offset = base_points − factor · ln(base_odds). Higher score = lower risk.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from overdue.scoring.features_generic import FeatureSchema, describe

MAX_VARIABLES = 500
MAX_BINS_PER_VARIABLE = 200


@dataclass(frozen=True)
class ScorecardParams:
    pdo: float = 20.0
    base_odds: float = 50.0  # good:bad odds at base_points
    base_points: float = 600.0
    min_iv: float = 0.02
    max_variables: int = 40
    c: float = 1.0  # inverse L2 strength of the logistic regression
    monotonic_trend: str = "auto_asc_desc"
    min_prebin_size: float = 0.05

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2.0)

    @property
    def offset(self) -> float:
        return self.base_points - self.factor * math.log(self.base_odds)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_from_logit(logit: np.ndarray, params: ScorecardParams) -> np.ndarray:
    """Points for a log-odds of bad (logit): the same scale for the scorecard and LightGBM."""
    return params.offset - params.factor * logit


def probability_from_score(score: np.ndarray, params: ScorecardParams) -> np.ndarray:
    logit = (params.offset - score) / params.factor
    return 1.0 / (1.0 + np.exp(-logit))


def fit_optbinning(
    x: pd.DataFrame, y: np.ndarray, schema: FeatureSchema, params: ScorecardParams
) -> Any:
    """Fit optbinning's Scorecard on the scorecard frame ``x``."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    names = list(x.columns)
    assert 0 < len(names) <= MAX_VARIABLES
    kinds = {c.name: c for c in schema.columns}
    categorical = [n for n in names if n in kinds and kinds[n].kind == "categorical"]
    fit_params: dict[str, dict[str, Any]] = {}
    for name in names:
        one: dict[str, Any] = {"min_prebin_size": params.min_prebin_size}
        if name not in categorical:
            one["monotonic_trend"] = params.monotonic_trend
        spec = kinds.get(name)
        if spec is not None and spec.specials:
            one["special_codes"] = {_code_label(c): [c] for c in spec.specials}
        fit_params[name] = one
    process = BinningProcess(
        names,
        categorical_variables=categorical or None,
        selection_criteria={"iv": {"min": params.min_iv, "top": params.max_variables}},
        binning_fit_params=fit_params,
        binning_transform_params={
            n: {"metric_special": "empirical", "metric_missing": "empirical"} for n in names
        },
    )
    card = Scorecard(
        binning_process=process,
        estimator=LogisticRegression(C=params.c, max_iter=2000),
        scaling_method="pdo_odds",
        scaling_method_params={
            "pdo": params.pdo,
            "odds": params.base_odds,
            "scorecard_points": params.base_points,
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        card.fit(x, y)
    return card


def _code_label(code: float) -> str:
    return str(int(code)) if float(code).is_integer() else repr(code)


@dataclass
class Variable:
    """One characteristic of the card: how a value finds its bin, and the points of each bin."""

    name: str
    kind: str  # numeric | categorical
    splits: list[float]  # numeric: inner split points
    groups: list[list[str]]  # categorical: the categories of each bin
    specials: list[float]  # numeric sentinel codes, one bin each, after the regular bins
    labels: list[str]  # one per bin: regular bins, specials, missing
    points: list[float]  # one per bin
    counts: list[int]
    event_rates: list[float]
    woe: list[float]
    iv: float
    unknown_points: float  # a category never seen in training: WoE 0
    en: str = ""
    zh: str = ""

    @property
    def n_regular(self) -> int:
        return len(self.splits) + 1 if self.kind == "numeric" else len(self.groups)

    def bin_index(self, values: np.ndarray) -> np.ndarray:
        """Index into ``points`` for each value; -1 for an unknown category."""
        n_regular = self.n_regular
        missing_index = len(self.points) - 1
        if self.kind == "numeric":
            arr = np.asarray(values, dtype=np.float64)
            index = np.searchsorted(np.asarray(self.splits), arr, side="right")
            for k, code in enumerate(self.specials):
                index[arr == code] = n_regular + k
            index[~np.isfinite(arr)] = missing_index
            return index
        lookup = {cat: i for i, group in enumerate(self.groups) for cat in group}
        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        # Each distinct value is looked up once; factorize's -1 (missing) picks the last entry.
        mapped = np.array([lookup.get(str(u), -1) for u in uniques] + [missing_index])
        return mapped.astype(np.int64)[codes]

    def bin_index_of_levels(self, position: np.ndarray, levels: tuple[str, ...]) -> np.ndarray:
        """Bin index from level positions (0..len(levels)-1, len(levels) = OTHER, -1 missing)."""
        from overdue.scoring.features_generic import OTHER

        lookup = {cat: i for i, group in enumerate(self.groups) for cat in group}
        table = np.array(
            [lookup.get(level, -1) for level in (*levels, OTHER)] + [len(self.points) - 1],
            dtype=np.int64,
        )
        return table[position]  # position -1 (missing) picks the trailing missing bin

    def points_of(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = self.bin_index(values)
        table = np.r_[np.asarray(self.points, dtype=np.float64), self.unknown_points]
        return table[index], index  # index -1 picks the last entry: unknown_points

    @property
    def best_points(self) -> float:
        used = [p for p, c in zip(self.points, self.counts, strict=True) if c > 0]
        return max(used) if used else max(self.points)


@dataclass
class CompiledScorecard:
    params: ScorecardParams
    variables: list[Variable]

    def points(
        self,
        x: pd.DataFrame | dict[str, np.ndarray],
        levels: dict[str, tuple[str, ...]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(points: rows × variables, bin index: rows × variables). ``x`` is the scorecard frame,
        or arrays where categoricals are level positions (``levels`` gives each one's levels)."""
        n = len(x) if isinstance(x, pd.DataFrame) else len(next(iter(x.values())))
        points = np.zeros((n, len(self.variables)), order="F")
        index = np.zeros((n, len(self.variables)), dtype=np.int64, order="F")
        for j, variable in enumerate(self.variables):
            values = x[variable.name]
            values = values.to_numpy() if isinstance(values, pd.Series) else values
            if levels is not None and variable.kind == "categorical":
                index[:, j] = variable.bin_index_of_levels(values, levels[variable.name])
            else:
                index[:, j] = variable.bin_index(values)
            table = np.r_[np.asarray(variable.points, dtype=np.float64), variable.unknown_points]
            points[:, j] = table[index[:, j]]  # index -1 picks the last entry: unknown_points
        return points, index

    def score(self, x: pd.DataFrame) -> np.ndarray:
        return self.points(x)[0].sum(axis=1)

    def probability(self, x: pd.DataFrame) -> np.ndarray:
        return probability_from_score(self.score(x), self.params)

    def table(self) -> pd.DataFrame:
        """The card a person reads: one row per bin with count, bad rate, WoE and points."""
        rows = []
        for variable in self.variables:
            total = max(sum(variable.counts), 1)
            for i, label in enumerate(variable.labels):
                rows.append({
                    "variable": variable.name, "description": variable.en, "bin": label,
                    "count": variable.counts[i], "share": variable.counts[i] / total,
                    "bad_rate": variable.event_rates[i], "woe": variable.woe[i],
                    "points": round(variable.points[i], 1),
                })  # fmt: skip
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params.to_dict(), "variables": [asdict(v) for v in self.variables]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompiledScorecard:
        params = ScorecardParams(**data["params"])
        return cls(params, [Variable(**v) for v in data["variables"]])


def _bin_label(raw: Any) -> str:
    if isinstance(raw, (list, np.ndarray, pd.api.extensions.ExtensionArray)):
        items = [str(v) for v in list(raw)]
        return "{" + ", ".join(items) + "}"
    return str(raw)


def compile_card(card: Any, schema: FeatureSchema, params: ScorecardParams) -> CompiledScorecard:
    """Read the fitted optbinning Scorecard into a CompiledScorecard."""
    table = card.table(style="detailed")
    process = card.binning_process_
    selected = list(process.get_support(names=True))
    assert len(selected) <= MAX_VARIABLES
    variables = []
    for name in selected:
        rows = table[table["Variable"] == name].reset_index(drop=True)
        binned = process.get_binned_variable(name)
        is_cat = binned.dtype == "categorical"
        specials = [] if is_cat else [float(v[0]) for v in (binned.special_codes or {}).values()]
        if is_cat:
            groups = [[str(c) for c in list(g)] for g in binned.splits]
            n_regular = len(groups)
            splits: list[float] = []
        else:
            splits = [float(s) for s in binned.splits]
            groups = []
            n_regular = len(splits) + 1
        n_special_rows = max(1, len(specials)) if not is_cat else 1
        assert len(rows) == n_regular + n_special_rows + 1, f"{name}: unexpected table shape"
        keep = list(range(n_regular)) + list(range(n_regular, n_regular + len(specials)))
        keep.append(len(rows) - 1)  # the Missing row
        pick = rows.iloc[keep]
        coef = float(pick["Coefficient"].iloc[0])
        first = pick.iloc[0]
        unknown = float(first["Points"]) + coef * float(first["WoE"]) * params.factor
        en, zh = describe(schema, name)
        variables.append(
            Variable(
                name=name,
                kind="categorical" if is_cat else "numeric",
                splits=splits,
                groups=groups,
                specials=specials,
                labels=[_bin_label(b) for b in pick["Bin"]],
                points=[float(p) for p in pick["Points"]],
                counts=[int(c) for c in pick["Count"]],
                event_rates=[float(r) for r in pick["Event rate"]],
                woe=[float(w) for w in pick["WoE"]],
                iv=float(pick["IV"].sum()),
                unknown_points=unknown,
                en=en,
                zh=zh,
            )
        )
        assert len(variables[-1].points) <= MAX_BINS_PER_VARIABLE
    return CompiledScorecard(params, variables)

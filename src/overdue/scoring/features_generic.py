"""Features for any credit table, found from the values and the shape of the names only.

* Column types: numbers (and booleans) are numeric; text with few distinct values is categorical
  (rare values pooled as ``__other__``); constant columns, row counters, id-like text and dates are
  dropped with a reason.
* Sentinel codes per numeric column (``specials``): declared or detected (see ``specials.py``).
* Numbered groups: columns that share a prefix and end in a number (``X1 … X6``, at least 3 of
  them) are a history; row-wise aggregates are added (mean, max, min, std, first − last, count > 0,
  count of sentinel codes), plus, for two groups of the same length, the ratio and difference of
  their sums and of their first members, and each group's first member and mean relative to a
  standalone positive column of the same magnitude (e.g. a limit). Sentinel codes and missing
  values are left out of the aggregates. Whether they are used at all is decided by
  cross-validation (``select.py``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from overdue.errors import BadInput
from overdue.scoring import specials as specials_mod

OTHER = "__other__"
NUMBERED = re.compile(r"^(.*?)(\d+)$")
MIN_GROUP = 3
MAX_GROUP = 60
MAX_LEVELS = 50
MIN_LEVEL_SHARE = 0.005
MIN_LEVEL_COUNT = 10
MIN_KEPT_SHARE = 0.5
MAX_ENGINEERED = 300
MIN_SCALE_DISTINCT = 20
SCALE_RATIO_RANGE = (0.01, 100.0)
CODE_SUFFIX = "__code"


@dataclass(frozen=True)
class ColumnSpec:
    """One input column kept as a feature."""

    name: str
    kind: str  # "numeric" or "categorical"
    specials: tuple[float, ...] = ()
    special_source: str = ""  # "declared", "detected" or ""
    levels: tuple[str, ...] = ()  # categorical: kept levels; the rest is OTHER


@dataclass(frozen=True)
class Dropped:
    name: str
    reason: str


@dataclass(frozen=True)
class Engineered:
    """A row-wise feature computed from numeric inputs (sentinel codes and NaN left out)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    second: tuple[str, ...] = ()
    en: str = ""
    zh: str = ""


@dataclass
class FeatureSchema:
    columns: tuple[ColumnSpec, ...]
    dropped: tuple[Dropped, ...]
    engineered: tuple[Engineered, ...]
    groups: dict[str, list[str]] = field(default_factory=dict)

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def numeric(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.kind == "numeric"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [asdict(c) for c in self.columns],
            "dropped": [asdict(d) for d in self.dropped],
            "engineered": [asdict(e) for e in self.engineered],
            "groups": self.groups,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        columns = tuple(
            ColumnSpec(
                name=c["name"],
                kind=c["kind"],
                specials=tuple(c["specials"]),
                special_source=c["special_source"],
                levels=tuple(c["levels"]),
            )
            for c in data["columns"]
        )
        engineered = tuple(
            Engineered(
                name=e["name"],
                op=e["op"],
                inputs=tuple(e["inputs"]),
                second=tuple(e["second"]),
                en=e["en"],
                zh=e["zh"],
            )
            for e in data["engineered"]
        )
        dropped = tuple(Dropped(**d) for d in data["dropped"])
        return cls(columns=columns, dropped=dropped, engineered=engineered, groups=data["groups"])


# --------------------------------------------------------------------------- column typing


def _is_row_counter(values: pd.Series) -> bool:
    arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if len(arr) < 3 or not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
        return False
    return bool(np.all(np.diff(arr) > 0))


def _categorical_levels(text: pd.Series) -> tuple[tuple[str, ...], str]:
    """Kept levels (most frequent first) or a reason to drop the column."""
    present = text.dropna()
    counts = present.value_counts()
    if len(counts) <= 1:
        return (), "constant (one distinct value)"
    if len(counts) > MAX_LEVELS and len(counts) > 0.5 * len(present):
        return (), f"text with {len(counts)} distinct values in {len(present)} rows (id-like)"
    min_count = max(MIN_LEVEL_COUNT, int(np.ceil(MIN_LEVEL_SHARE * len(text))))
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    kept = [str(level) for level, count in ordered if count >= min_count][:MAX_LEVELS]
    covered = counts[kept].sum() if kept else 0
    if not kept or covered < MIN_KEPT_SHARE * len(present):
        return (), f"text with {len(counts)} distinct values, too few of them frequent"
    return tuple(kept), ""


def as_text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().astype(object).where(values.notna())


def _type_column(
    name: str, values: pd.Series, declared: list[float | str] | None
) -> ColumnSpec | Dropped:
    if pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype):
        return Dropped(name, "date/time column (turn it into an age or a duration first)")
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        present = numbers.dropna()
        if present.empty:
            return Dropped(name, "no values")
        if present.nunique() <= 1:
            return Dropped(name, "constant (one distinct value)")
        if _is_row_counter(numbers):
            return Dropped(name, "row counter (whole numbers, all distinct, increasing)")
        if declared is not None:
            codes = tuple(sorted(float(c) for c in declared))
            return ColumnSpec(name, "numeric", specials=codes, special_source="declared")
        found = tuple(specials_mod.detect(numbers))
        return ColumnSpec(
            name, "numeric", specials=found, special_source="detected" if found else ""
        )
    levels, reason = _categorical_levels(as_text(values))
    if reason:
        return Dropped(name, reason)
    if declared:
        levels = levels + tuple(str(c) for c in declared if str(c) not in levels)
    return ColumnSpec(name, "categorical", levels=levels)


# --------------------------------------------------------------------------- engineered features


def _numbered_groups(numeric: list[ColumnSpec]) -> dict[str, list[str]]:
    found: dict[str, list[tuple[int, str]]] = {}
    for spec in numeric:
        match = NUMBERED.match(spec.name)
        if match and match.group(1):
            found.setdefault(match.group(1), []).append((int(match.group(2)), spec.name))
    groups: dict[str, list[str]] = {}
    for prefix, members in sorted(found.items()):
        if MIN_GROUP <= len(members) <= MAX_GROUP:
            groups[prefix] = [name for _, name in sorted(members)]
    return groups


def _label(prefix: str) -> str:
    return prefix.rstrip("_.- ") or prefix


def _span(members: list[str]) -> str:
    return f"{members[0]}…{members[-1]}"


GROUP_OPS = {
    "mean": ("mean of {g}", "{g} 的平均值"),
    "max": ("largest of {g}", "{g} 的最大值"),
    "min": ("smallest of {g}", "{g} 的最小值"),
    "std": ("spread (std) of {g}", "{g} 的波动（标准差）"),
    "trend": ("first minus last of {g}", "{g} 首末之差"),
    "npos": ("count of {g} above zero", "{g} 中大于零的个数"),
    "nspecial": ("count of special codes in {g}", "{g} 中特殊代码的个数"),
}


def _group_features(groups: dict[str, list[str]], with_specials: set[str]) -> list[Engineered]:
    out: list[Engineered] = []
    for prefix, members in groups.items():
        span = _span(members)
        for op, (en, zh) in GROUP_OPS.items():
            if op == "nspecial" and not (set(members) & with_specials):
                continue
            out.append(
                Engineered(
                    name=f"{_label(prefix)}__{op}",
                    op=op,
                    inputs=tuple(members),
                    en=en.format(g=span),
                    zh=zh.format(g=span),
                )
            )
    return out


def _typical(frame: pd.DataFrame, names: list[str]) -> float:
    values = np.abs(frame[names].to_numpy(dtype=np.float64, na_value=np.nan))
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.median(values)) if len(values) else 0.0


def _cross_features(groups: dict[str, list[str]], frame: pd.DataFrame) -> list[Engineered]:
    out: list[Engineered] = []
    prefixes = list(groups)
    for i, a in enumerate(prefixes):
        for b in prefixes[i + 1 :]:
            ga, gb = groups[a], groups[b]
            if len(ga) != len(gb) or _typical(frame, ga) == 0 or _typical(frame, gb) == 0:
                continue
            sa, sb = _span(ga), _span(gb)
            la, lb = _label(a), _label(b)
            out += [
                Engineered(f"{la}__sum_per__{lb}", "ratio_sum", tuple(ga), tuple(gb),
                           f"sum of {sa} per sum of {sb}", f"{sa} 之和与 {sb} 之和的比"),
                Engineered(f"{la}__sum_minus__{lb}", "diff_sum", tuple(ga), tuple(gb),
                           f"sum of {sa} minus sum of {sb}", f"{sa} 之和减 {sb} 之和"),
                Engineered(f"{la}__first_per__{lb}", "ratio_first", tuple(ga), tuple(gb),
                           f"{ga[0]} per {gb[0]}", f"{ga[0]} 与 {gb[0]} 的比"),
            ]  # fmt: skip
    return out


def _scale_features(
    groups: dict[str, list[str]], numeric: list[ColumnSpec], frame: pd.DataFrame
) -> list[Engineered]:
    grouped = {name for members in groups.values() for name in members}
    scales = []
    for spec in numeric:
        if spec.name in grouped or spec.specials:
            continue
        values = frame[spec.name].to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        if len(values) and values.min() > 0 and len(np.unique(values)) >= MIN_SCALE_DISTINCT:
            scales.append((spec.name, float(np.median(values))))
    out: list[Engineered] = []
    low, high = SCALE_RATIO_RANGE
    for prefix, members in groups.items():
        typical = _typical(frame, members)
        for scale, median in scales:
            if typical == 0 or not (low <= typical / median <= high):
                continue
            label, span = _label(prefix), _span(members)
            out += [
                Engineered(f"{label}__first_per__{scale}", "scale_first", tuple(members), (scale,),
                           f"{members[0]} per {scale}", f"{members[0]} 与 {scale} 的比"),
                Engineered(f"{label}__mean_per__{scale}", "scale_mean", tuple(members), (scale,),
                           f"mean of {span} per {scale}", f"{span} 的平均值与 {scale} 的比"),
            ]  # fmt: skip
    return out


def _unique_names(engineered: list[Engineered], taken: set[str]) -> list[Engineered]:
    out = []
    for feature in engineered[:MAX_ENGINEERED]:
        name = feature.name
        while name in taken:
            name += "_x"
        taken.add(name)
        out.append(
            Engineered(name, feature.op, feature.inputs, feature.second, feature.en, feature.zh)
        )
    return out


def build_schema(
    frame: pd.DataFrame, declared: dict[str, list[float | str]] | None = None
) -> FeatureSchema:
    """Type every column of ``frame`` (features only: no target, id or excluded columns)."""
    declared = declared or {}
    columns: list[ColumnSpec] = []
    dropped: list[Dropped] = []
    for name in frame.columns:
        typed = _type_column(name, frame[name], declared.get(name))
        (columns if isinstance(typed, ColumnSpec) else dropped).append(typed)  # type: ignore[arg-type]
    numeric = [c for c in columns if c.kind == "numeric"]
    groups = _numbered_groups(numeric)
    with_specials = {c.name for c in numeric if c.specials}
    cleaned = numeric_matrix(frame, numeric)
    engineered = (
        _group_features(groups, with_specials)
        + _cross_features(groups, cleaned)
        + _scale_features(groups, numeric, cleaned)
    )
    engineered = _unique_names(engineered, set(frame.columns))
    return FeatureSchema(tuple(columns), tuple(dropped), tuple(engineered), groups)


# --------------------------------------------------------------------------- frames


def numeric_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as float64; one-line BadInput when it is missing or holds non-numbers."""
    if name not in frame.columns:
        raise BadInput(f"column {name!r} is missing (the model needs it)")
    values = frame[name]
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return np.array(values.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna() & (as_text(values) != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadInput(f"column {name!r}, row {row + 1}: {values.iloc[row]!r} is not a number")
    return np.array(converted.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)


def clean_numeric(values: np.ndarray, specials: tuple[float, ...]) -> np.ndarray:
    """Sentinel codes and infinities → NaN."""
    out = values.copy()
    if specials:
        out[np.isin(out, np.asarray(specials))] = np.nan
    out[~np.isfinite(out)] = np.nan
    return out


def numeric_matrix(frame: pd.DataFrame, specs: list[ColumnSpec]) -> pd.DataFrame:
    data = {s.name: clean_numeric(numeric_values(frame, s.name), s.specials) for s in specs}
    return pd.DataFrame(data, index=frame.index)


def categorical_values(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    """Kept level, OTHER for any other value, None for missing (object array)."""
    if spec.name not in frame.columns:
        raise BadInput(f"column {spec.name!r} is missing (the model needs it)")
    text = as_text(frame[spec.name])
    known = text.isin(spec.levels)
    out = text.where(known | text.isna(), OTHER)
    return out.to_numpy(dtype=object)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
    ratio[~np.isfinite(ratio)] = np.nan
    return ratio


def _nan_reduce(op: str, block: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", category=RuntimeWarning)
        if op == "mean":
            return np.nanmean(block, axis=1)
        if op == "max":
            return np.nanmax(block, axis=1)
        if op == "min":
            return np.nanmin(block, axis=1)
        if op == "std":
            return np.nanstd(block, axis=1)
        if op == "sum":
            total = np.nansum(block, axis=1)
            return np.where(np.isnan(block).all(axis=1), np.nan, total)
    raise AssertionError(op)


def _first_last(block: np.ndarray) -> np.ndarray:
    return block[:, 0] - block[:, -1]


def engineered_frame(
    frame: pd.DataFrame, schema: FeatureSchema, cleaned: pd.DataFrame
) -> pd.DataFrame:
    """All engineered features of ``schema`` for ``frame`` (``cleaned``: numeric_matrix)."""
    data: dict[str, np.ndarray] = {}
    specials = {c.name: c.specials for c in schema.numeric}
    for feature in schema.engineered:
        block = cleaned[list(feature.inputs)].to_numpy()
        if feature.op in ("mean", "max", "min", "std"):
            data[feature.name] = _nan_reduce(feature.op, block)
        elif feature.op == "trend":
            data[feature.name] = _first_last(block)
        elif feature.op == "npos":
            data[feature.name] = (block > 0).sum(axis=1).astype(np.float64)
        elif feature.op == "nspecial":
            counts = np.zeros(len(frame))
            for name in feature.inputs:
                if specials[name]:
                    raw = numeric_values(frame, name)
                    counts += np.isin(raw, np.asarray(specials[name]))
            data[feature.name] = counts
        elif feature.op in ("ratio_sum", "diff_sum", "ratio_first"):
            other = cleaned[list(feature.second)].to_numpy()
            if feature.op == "ratio_first":
                data[feature.name] = _safe_ratio(block[:, 0], other[:, 0])
            else:
                sa, sb = _nan_reduce("sum", block), _nan_reduce("sum", other)
                data[feature.name] = _safe_ratio(sa, sb) if feature.op == "ratio_sum" else sa - sb
        elif feature.op in ("scale_first", "scale_mean"):
            scale = cleaned[feature.second[0]].to_numpy()
            top = block[:, 0] if feature.op == "scale_first" else _nan_reduce("mean", block)
            data[feature.name] = _safe_ratio(top, scale)
        else:
            raise AssertionError(f"unknown engineered op {feature.op}")
    return pd.DataFrame(data, index=frame.index)


def describe(schema: FeatureSchema, name: str) -> tuple[str, str]:
    """(en, zh) description of a model feature: a column, an engineered feature or a code flag."""
    for feature in schema.engineered:
        if feature.name == name:
            return feature.en, feature.zh
    if name.endswith(CODE_SUFFIX):
        base = name[: -len(CODE_SUFFIX)]
        return f"special code of {base}", f"{base} 的特殊代码"
    return name, name


def scorecard_frame(frame: pd.DataFrame, schema: FeatureSchema, engineered: bool) -> pd.DataFrame:
    """Inputs of the scorecard: raw numbers (sentinel codes kept: they get their own bins),
    categorical text, and the engineered features when ``engineered``."""
    data: dict[str, np.ndarray] = {}
    for spec in schema.columns:
        if spec.kind == "numeric":
            values = numeric_values(frame, spec.name)
            values[np.isinf(values)] = np.nan
            data[spec.name] = values
        else:
            data[spec.name] = categorical_values(frame, spec)
    out = pd.DataFrame(data, index=frame.index)
    if engineered and schema.engineered:
        cleaned = numeric_matrix(frame, schema.numeric)
        out = pd.concat([out, engineered_frame(frame, schema, cleaned)], axis=1)
    return out


def gbm_frame(frame: pd.DataFrame, schema: FeatureSchema, engineered: bool) -> pd.DataFrame:
    """Inputs of LightGBM: numbers with sentinel codes as NaN plus one code column per numeric
    column that has codes (0 = none, k = the k-th code), categoricals as pandas categories, and
    the engineered features when ``engineered``."""
    data: dict[str, Any] = {}
    for spec in schema.columns:
        if spec.kind == "numeric":
            raw = numeric_values(frame, spec.name)
            data[spec.name] = clean_numeric(raw, spec.specials)
            if spec.specials:
                code = np.zeros(len(raw))
                for k, special in enumerate(spec.specials, start=1):
                    code[raw == special] = k
                data[spec.name + CODE_SUFFIX] = code
        else:
            values = categorical_values(frame, spec)
            data[spec.name] = pd.Categorical(values, categories=[*spec.levels, OTHER])
    out = pd.DataFrame(data, index=frame.index)
    if engineered and schema.engineered:
        cleaned = numeric_matrix(frame, schema.numeric)
        out = pd.concat([out, engineered_frame(frame, schema, cleaned)], axis=1)
    return out

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
from dataclasses import asdict, dataclass, field
from typing import Any

import numba
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
    """Column ``name`` as a fresh float64 array; one-line BadInput when it is missing or holds
    non-numbers."""
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
    """Sentinel codes and infinities → NaN (a new array)."""
    out = values.copy()
    if specials:
        out[np.isin(out, np.asarray(specials))] = np.nan
    out[np.isinf(out)] = np.nan
    return out


def numeric_matrix(frame: pd.DataFrame, specs: list[ColumnSpec]) -> pd.DataFrame:
    data = {s.name: clean_numeric(numeric_values(frame, s.name), s.specials) for s in specs}
    return pd.DataFrame(data, index=frame.index)


def _unique_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def level_index(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    """Per row: position in ``spec.levels``, len(levels) for any other value (OTHER), -1 for
    missing. Text is normalised once per distinct value, not once per row."""
    if spec.name not in frame.columns:
        raise BadInput(f"column {spec.name!r} is missing (the model needs it)")
    codes, uniques = pd.factorize(frame[spec.name], use_na_sentinel=True)
    lookup = {level: i for i, level in enumerate(spec.levels)}
    other = len(spec.levels)
    mapped = np.array([lookup.get(_unique_text(u), other) for u in uniques] + [-1], dtype=np.int64)
    return mapped[codes]  # factorize's -1 (missing) picks the trailing -1


def categorical_values(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    """Kept level, OTHER for any other value, None for missing (object array)."""
    names = np.array([*spec.levels, OTHER, None], dtype=object)
    return names[level_index(frame, spec)]  # -1 picks None


def categorical_codes(frame: pd.DataFrame, spec: ColumnSpec) -> np.ndarray:
    """Position in (*levels, OTHER) as float64; NaN for missing."""
    index = level_index(frame, spec).astype(np.float64)
    index[index < 0] = np.nan
    return index


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
    ratio[~np.isfinite(ratio)] = np.nan
    return ratio


@numba.njit(parallel=True, cache=True)
def _row_stats(block: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row, NaN left out: sum, count, mean, std, max, min, count > 0 (NaN where no value)."""
    n_rows, n_cols = block.shape
    total = np.zeros(n_rows)
    count = np.zeros(n_rows)
    mean = np.full(n_rows, np.nan)
    std = np.full(n_rows, np.nan)
    high = np.full(n_rows, np.nan)
    low = np.full(n_rows, np.nan)
    positive = np.zeros(n_rows)
    for i in numba.prange(n_rows):
        s = 0.0
        c = 0
        hi = -np.inf
        lo = np.inf
        pos = 0
        for j in range(n_cols):
            v = block[i, j]
            if not np.isnan(v):
                s += v
                c += 1
                hi = max(hi, v)
                lo = min(lo, v)
                if v > 0:
                    pos += 1
        positive[i] = pos
        count[i] = c
        if c == 0:
            total[i] = np.nan
            continue
        total[i] = s
        m = s / c
        squares = 0.0
        for j in range(n_cols):
            v = block[i, j]
            if not np.isnan(v):
                squares += (v - m) * (v - m)
        mean[i] = m
        std[i] = np.sqrt(squares / c)
        high[i] = hi
        low[i] = lo
    return total, count, mean, std, high, low, positive


class _Group:
    """Row-wise statistics of a block of columns, NaN left out, computed in one compiled pass."""

    def __init__(self, columns: list[np.ndarray]) -> None:
        self.block = np.empty((len(columns[0]), len(columns)), order="F")
        for j, column in enumerate(columns):
            self.block[:, j] = column
        self.sum, self.count, self._mean, self._std, self._max, self._min, self.positive = (
            _row_stats(self.block)
        )

    def mean(self) -> np.ndarray:
        return self._mean

    def std(self) -> np.ndarray:
        return self._std

    def max(self) -> np.ndarray:
        return self._max

    def min(self) -> np.ndarray:
        return self._min


def engineered_arrays(
    frame: pd.DataFrame, schema: FeatureSchema, cleaned: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """All engineered features of ``schema`` (``cleaned``: numeric columns, codes as NaN)."""
    data: dict[str, np.ndarray] = {}
    specials = {c.name: c.specials for c in schema.numeric}
    groups: dict[tuple[str, ...], _Group] = {}

    def group(names: tuple[str, ...]) -> _Group:
        if names not in groups:
            groups[names] = _Group([cleaned[n] for n in names])
        return groups[names]

    for feature in schema.engineered:
        g = group(feature.inputs)
        if feature.op == "mean":
            data[feature.name] = g.mean()
        elif feature.op == "max":
            data[feature.name] = g.max()
        elif feature.op == "min":
            data[feature.name] = g.min()
        elif feature.op == "std":
            data[feature.name] = g.std()
        elif feature.op == "trend":
            data[feature.name] = g.block[:, 0] - g.block[:, -1]
        elif feature.op == "npos":
            data[feature.name] = g.positive
        elif feature.op == "nspecial":
            counts = np.zeros(len(frame))
            for name in feature.inputs:
                if specials[name]:
                    counts += np.isin(numeric_values(frame, name), np.asarray(specials[name]))
            data[feature.name] = counts
        elif feature.op in ("ratio_sum", "diff_sum", "ratio_first"):
            other = group(feature.second)
            if feature.op == "ratio_first":
                data[feature.name] = _safe_ratio(g.block[:, 0], other.block[:, 0])
            elif feature.op == "ratio_sum":
                data[feature.name] = _safe_ratio(g.sum, other.sum)
            else:
                data[feature.name] = g.sum - other.sum
        elif feature.op in ("scale_first", "scale_mean"):
            top = g.block[:, 0] if feature.op == "scale_first" else g.mean()
            data[feature.name] = _safe_ratio(top, cleaned[feature.second[0]])
        else:
            raise AssertionError(f"unknown engineered op {feature.op}")
    return data


def engineered_frame(
    frame: pd.DataFrame, schema: FeatureSchema, cleaned: pd.DataFrame
) -> pd.DataFrame:
    arrays = {name: cleaned[name].to_numpy() for name in cleaned.columns}
    return pd.DataFrame(engineered_arrays(frame, schema, arrays), index=frame.index)


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
    cleaned: dict[str, np.ndarray] = {}
    for spec in schema.columns:
        if spec.kind == "numeric":
            values = numeric_values(frame, spec.name)
            values[np.isinf(values)] = np.nan
            data[spec.name] = values
            cleaned[spec.name] = clean_numeric(values, spec.specials) if spec.specials else values
        else:
            data[spec.name] = categorical_values(frame, spec)
    if engineered and schema.engineered:
        data.update(engineered_arrays(frame, schema, cleaned))
    return pd.DataFrame(data, index=frame.index)


def scorecard_arrays(
    frame: pd.DataFrame, schema: FeatureSchema, engineered: bool
) -> dict[str, np.ndarray]:
    """``scorecard_frame`` for scoring: the same numbers, but categoricals as level positions
    (``level_index``) instead of text, which is much faster on large tables."""
    data: dict[str, np.ndarray] = {}
    cleaned: dict[str, np.ndarray] = {}
    for spec in schema.columns:
        if spec.kind == "numeric":
            values = numeric_values(frame, spec.name)
            values[np.isinf(values)] = np.nan
            data[spec.name] = values
            cleaned[spec.name] = clean_numeric(values, spec.specials) if spec.specials else values
        else:
            data[spec.name] = level_index(frame, spec)
    if engineered and schema.engineered:
        data.update(engineered_arrays(frame, schema, cleaned))
    return data


def gbm_arrays(
    frame: pd.DataFrame, schema: FeatureSchema, engineered: bool
) -> dict[str, np.ndarray]:
    """Inputs of LightGBM as float arrays: numbers with sentinel codes as NaN plus one code
    column per numeric column that has codes (0 = none, k = the k-th code), categoricals as codes
    into (*levels, OTHER) with NaN for missing, then the engineered features when ``engineered``."""
    data: dict[str, np.ndarray] = {}
    cleaned: dict[str, np.ndarray] = {}
    for spec in schema.columns:
        if spec.kind == "numeric":
            raw = numeric_values(frame, spec.name)
            cleaned[spec.name] = data[spec.name] = clean_numeric(raw, spec.specials)
            if spec.specials:
                code = np.zeros(len(raw))
                for k, special in enumerate(spec.specials, start=1):
                    code[raw == special] = k
                data[spec.name + CODE_SUFFIX] = code
        else:
            data[spec.name] = categorical_codes(frame, spec)
    if engineered and schema.engineered:
        data.update(engineered_arrays(frame, schema, cleaned))
    return data


def gbm_frame(frame: pd.DataFrame, schema: FeatureSchema, engineered: bool) -> pd.DataFrame:
    """``gbm_arrays`` as a DataFrame, categoricals as pandas categories (what LightGBM trains on)."""
    data: dict[str, Any] = gbm_arrays(frame, schema, engineered)
    for spec in schema.columns:
        if spec.kind == "categorical":
            codes = data[spec.name]
            codes = np.where(np.isnan(codes), -1, codes).astype(np.int64)
            data[spec.name] = pd.Categorical.from_codes(codes, categories=[*spec.levels, OTHER])
    return pd.DataFrame(data, index=frame.index)


def gbm_columns(schema: FeatureSchema, engineered: bool) -> list[str]:
    """The names of ``gbm_arrays``'s columns, in order."""
    names: list[str] = []
    for spec in schema.columns:
        names.append(spec.name)
        if spec.kind == "numeric" and spec.specials:
            names.append(spec.name + CODE_SUFFIX)
    if engineered:
        names.extend(e.name for e in schema.engineered)
    return names


def gbm_matrix(
    frame: pd.DataFrame, schema: FeatureSchema, engineered: bool, rows: np.ndarray | None = None
) -> np.ndarray:
    """``gbm_arrays`` as one float64 matrix (rows × features) for the compiled tree loop,
    written column by column in place (Fortran order) to save copies of a large table.
    ``rows``: only those positions of ``frame``, in that order (as ``frame.iloc[rows]``,
    without copying the frame's other columns)."""
    if rows is not None and engineered and schema.engineered:
        frame, rows = frame.iloc[rows], None  # the engineered columns read the frame itself
    names = gbm_columns(schema, engineered)
    position = {name: j for j, name in enumerate(names)}
    size = len(frame) if rows is None else len(rows)
    out = np.empty((size, len(names)), dtype=np.float64, order="F")
    cleaned: dict[str, np.ndarray] = {}
    for spec in schema.columns:
        column = out[:, position[spec.name]]
        if spec.kind == "numeric":
            values = numeric_values(frame, spec.name)
            column[:] = values if rows is None else values[rows]
            if spec.specials:
                code = out[:, position[spec.name + CODE_SUFFIX]]
                code[:] = 0.0
                for k, special in enumerate(spec.specials, start=1):
                    code[column == special] = k
                column[code > 0] = np.nan
            column[np.isinf(column)] = np.nan
            cleaned[spec.name] = column
        else:
            codes = categorical_codes(frame, spec)
            column[:] = codes if rows is None else codes[rows]
    if engineered and schema.engineered:
        for name, values in engineered_arrays(frame, schema, cleaned).items():
            out[:, position[name]] = values
    return out

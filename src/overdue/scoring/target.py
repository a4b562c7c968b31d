"""The target column as 0/1 (1 = bad): 0/1, true/false, two text values, or named bad values."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from overdue.errors import BadInput

TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n"})
MAX_LISTED = 8


@dataclass(frozen=True)
class TargetSpec:
    """How the target column maps to bad (1): the column and the values that mean bad."""

    column: str
    positive: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"column": self.column, "positive": list(self.positive)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TargetSpec:
        positive = data["positive"]
        assert isinstance(positive, list)
        return cls(column=str(data["column"]), positive=tuple(str(v) for v in positive))


def value_text(values: pd.Series) -> pd.Series:
    """Values as text: whole floats without '.0' (1.0 -> '1'), booleans as 'True'/'False'."""
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "True", False: "False"})
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        whole = np.isfinite(numbers) & (numbers == np.round(numbers))
        text = numbers.astype(str)
        text[whole] = numbers[whole].astype("int64").astype(str)
        return text.where(numbers.notna())
    return values.astype("string").str.strip().astype(object).where(values.notna())


def _listed(values: list[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:MAX_LISTED])
    return shown + (f" … ({len(values)} in all)" if len(values) > MAX_LISTED else "")


def infer_spec(
    frame: pd.DataFrame, column: str, positive: list[str] | None, file: str
) -> TargetSpec:
    if column not in frame.columns:
        raise BadInput(f"{file}: target column {column!r} not found")
    text = value_text(frame[column]).dropna()
    distinct = sorted(set(text.tolist()))
    if len(distinct) == 0:
        raise BadInput(f"{file}: target column {column!r} has no values")
    if positive:
        missing = [v for v in positive if v not in distinct]
        if missing:
            raise BadInput(
                f"{file}: --positive {missing[0]!r} never occurs in target column {column!r} "
                f"(values: {_listed(distinct)})"
            )
        if set(positive) >= set(distinct):
            raise BadInput(
                f"{file}: every value of target column {column!r} is named by --positive"
            )
        return TargetSpec(column=column, positive=tuple(positive))
    if len(distinct) != 2:
        raise BadInput(
            f"{file}: target column {column!r} has {len(distinct)} distinct values "
            f"({_listed(distinct)}); it needs exactly 2, or name the bad ones with --positive"
        )
    lowered = [v.lower() for v in distinct]
    for value, low in zip(distinct, lowered, strict=True):
        if low in TRUE_WORDS and any(other in FALSE_WORDS for other in lowered if other != low):
            return TargetSpec(column=column, positive=(value,))
    raise BadInput(
        f"{file}: target column {column!r} has two text values {_listed(distinct)}; "
        "say which one is bad with --positive"
    )


def encode(frame: pd.DataFrame, spec: TargetSpec, file: str) -> tuple[np.ndarray, np.ndarray]:
    """(y as int8 0/1, mask of rows that have a target). Rows without a target are not labelled."""
    if spec.column not in frame.columns:
        raise BadInput(f"{file}: target column {spec.column!r} not found")
    text = value_text(frame[spec.column])
    labelled = text.notna().to_numpy()
    y = text.isin(spec.positive).to_numpy().astype(np.int8)
    return y, labelled


def spec_dict(spec: TargetSpec) -> dict[str, object]:
    return asdict(spec)

"""Target encoding, sentinel codes and generic features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from overdue.errors import BadInput
from overdue.scoring import features_generic as fg
from overdue.scoring import specials, target


@pytest.mark.parametrize(
    ("values", "bad"),
    [
        ([0, 1, 1, 0], "1"),
        ([True, False, True, True], "True"),
        (["yes", "no", "no", "no"], "yes"),
        ([0.0, 1.0, np.nan, 1.0], "1"),
    ],
)
def test_target_defaults_to_one_or_true(values: list[object], bad: str) -> None:
    frame = pd.DataFrame({"t": values})
    spec = target.infer_spec(frame, "t", None, "f.csv")
    assert spec.positive == (bad,)
    y, labelled = target.encode(frame, spec, "f.csv")
    expected = [str(v) in ("1", "1.0", "True", "yes") for v in values]
    assert y[labelled].tolist() == [
        int(e) for e, keep in zip(expected, labelled, strict=True) if keep
    ]


def test_two_text_values_need_positive() -> None:
    frame = pd.DataFrame({"t": ["paid", "default", "paid"]})
    with pytest.raises(BadInput, match="--positive"):
        target.infer_spec(frame, "t", None, "f.csv")
    spec = target.infer_spec(frame, "t", ["default"], "f.csv")
    assert target.encode(frame, spec, "f.csv")[0].tolist() == [0, 1, 0]


def test_many_values_with_several_positive() -> None:
    frame = pd.DataFrame({"s": ["Current", "Charged Off", "Late", "Fully Paid"]})
    with pytest.raises(BadInput, match="4 distinct values"):
        target.infer_spec(frame, "s", None, "f.csv")
    spec = target.infer_spec(frame, "s", ["Charged Off", "Late"], "f.csv")
    assert target.encode(frame, spec, "f.csv")[0].tolist() == [0, 1, 1, 0]
    with pytest.raises(BadInput, match="never occurs"):
        target.infer_spec(frame, "s", ["Lost"], "f.csv")


def test_missing_target_column() -> None:
    with pytest.raises(BadInput, match="'nope' not found"):
        target.infer_spec(pd.DataFrame({"a": [1]}), "nope", None, "f.csv")


def test_detects_low_and_high_codes_but_not_ordinary_negatives() -> None:
    rng = np.random.default_rng(0)
    status = rng.choice([-2, -1, 0, 1, 2, 3], size=5000, p=[0.1, 0.2, 0.5, 0.1, 0.05, 0.05])
    assert specials.detect(pd.Series(status.astype(float))) == [-2.0, -1.0]
    months = rng.integers(0, 120, size=5000).astype(float)
    months[:300] = 999
    assert specials.detect(pd.Series(months)) == [999.0]
    balance = rng.normal(1000, 3000, size=5000).round(2)  # many distinct negatives: real values
    assert specials.detect(pd.Series(balance)) == []
    small = pd.Series([-1.0, 0.0, 1.0] * 100)  # only two non-negative values: not a code
    assert specials.detect(small) == []


def test_declared_specials_parse_and_fail_clearly() -> None:
    frame = pd.DataFrame({"a": [1.0, -9.0], "b": ["x", "y"]})
    assert specials.parse_declared(["a=-9,-8"], frame, "f.csv") == {"a": [-9.0, -8.0]}
    with pytest.raises(BadInput, match="unknown column 'c'"):
        specials.parse_declared(["c=1"], frame, "f.csv")
    with pytest.raises(BadInput, match="not a number"):
        specials.parse_declared(["a=x"], frame, "f.csv")
    with pytest.raises(BadInput, match="COL=V1,V2"):
        specials.parse_declared(["a"], frame, "f.csv")


def test_schema_types_drops_and_groups() -> None:
    n = 400
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "row": np.arange(n), "const": 1.0, "when": pd.date_range("2024-01-01", periods=n),
        "name": [f"n{i}" for i in range(n)], "city": rng.choice(["a", "b", "c"], n),
        "x1": rng.normal(size=n), "x2": rng.normal(size=n), "x3": rng.normal(size=n),
        "y1": rng.normal(size=n) + 5, "y2": rng.normal(size=n) + 5, "y3": rng.normal(size=n) + 5,
    })  # fmt: skip
    schema = fg.build_schema(frame)
    dropped = {d.name: d.reason for d in schema.dropped}
    assert set(dropped) == {"row", "const", "when", "name"}
    assert "row counter" in dropped["row"] and "id-like" in dropped["name"]
    assert schema.column("city").kind == "categorical"
    assert schema.groups == {"x": ["x1", "x2", "x3"], "y": ["y1", "y2", "y3"]}
    names = {e.name for e in schema.engineered}
    assert {"x__mean", "x__max", "y__trend", "x__sum_per__y"} <= names


def test_aggregates_leave_codes_and_missing_out() -> None:
    frame = pd.DataFrame({
        "h1": [-1.0, 2.0, 1.0, 0.0] * 50, "h2": [3.0, np.nan, 1.0, 2.0] * 50,
        "h3": [-1.0, 4.0, 2.0, 5.0] * 50, "h4": [1.0, 1.0, 1.0, 7.0] * 50,
    })  # fmt: skip
    schema = fg.build_schema(frame, {f"h{i}": [-1.0] for i in range(1, 5)})
    eng = fg.engineered_frame(frame, schema, fg.numeric_matrix(frame, schema.numeric))
    assert eng["h__mean"].iloc[0] == pytest.approx(2.0)  # (3 + 1) / 2: the -1 codes left out
    assert eng["h__max"].iloc[1] == 4.0  # NaN left out
    assert eng["h__nspecial"].iloc[0] == 2.0
    assert np.isnan(eng["h__trend"].iloc[0])  # first member is a code
    assert eng["h__trend"].iloc[3] == 0.0 - 7.0
    assert eng["h__npos"].iloc[3] == 3.0


def test_gbm_frame_turns_codes_into_a_code_column() -> None:
    frame = pd.DataFrame({"a": [-1.0, 5.0, 7.0, -2.0] * 100})
    schema = fg.build_schema(frame, {"a": [-1.0, -2.0]})
    x = fg.gbm_frame(frame, schema, engineered=False)
    assert x["a"].iloc[:4].isna().tolist() == [True, False, False, True]
    assert x["a__code"].iloc[:4].tolist() == [2.0, 0.0, 0.0, 1.0]  # codes sorted: -2 → 1, -1 → 2


def test_scoring_rejects_text_in_a_numeric_column() -> None:
    with pytest.raises(BadInput, match="row 2: 'abc' is not a number"):
        fg.numeric_values(pd.DataFrame({"a": ["1", "abc"]}), "a")

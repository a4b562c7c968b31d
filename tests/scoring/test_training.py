"""Training end to end on a synthetic table: registry, reproducibility, scoring, reasons, drift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synth import credit_table

from overdue.scoring import drift, evaluation
from overdue.scoring import features_generic as fg
from overdue.scoring.registry import load_model, read_index
from overdue.scoring.scorecard import compile_card, fit_optbinning
from overdue.scoring.table_io import Fingerprint
from overdue.scoring.train import TrainOptions, train_frame

CREATED = "2025-01-31T00:00:00+00:00"
OPTIONS = TrainOptions(
    target="status", id_column="account", positive=("default",), effort="quick", seed=7
)


def _fp(frame: pd.DataFrame) -> Fingerprint:
    return Fingerprint("synthetic", "0" * 64, len(frame), frame.shape[1])


def _train(frame: pd.DataFrame, out: Path, options: TrainOptions = OPTIONS) -> dict:
    _, card = train_frame(frame, _fp(frame), out, options, CREATED)
    return card


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, pd.DataFrame]:
    frame = credit_table(3000, seed=0)
    out = tmp_path_factory.mktemp("models")
    card = _train(frame, out)
    return out, card, frame


def test_card_has_what_the_registry_promises(trained: tuple[Path, dict, pd.DataFrame]) -> None:
    out, card, _ = trained
    for key in ("version", "created_at", "data", "features", "parameters", "metrics", "libraries"):
        assert key in card
    assert card["created_at"] == CREATED and card["version"] == 1
    assert card["kind"] in ("gbm", "scorecard") and card["challenger"] in ("gbm", "scorecard")
    assert card["libraries"]["optbinning"] != "absent"
    assert any(d.startswith("auto chose") for d in card["decisions"])
    schema = fg.FeatureSchema.from_dict(card["features"]["schema"])
    assert schema.column("hist1").specials == (-1.0,)  # found, not declared
    assert schema.column("hist1").special_source == "detected"
    assert [v["version"] for v in read_index(out)["versions"]] == [1]
    assert (out / "v1" / "gbm.txt").read_text().startswith("tree")
    table = pd.read_csv(out / "v1" / "scorecard_table.csv")
    assert {"variable", "bin", "points", "woe", "bad_rate"} <= set(table.columns)
    assert (table["bin"] == "-1").any()  # the sentinel code has its own bin


def test_same_seed_same_predictions(
    trained: tuple[Path, dict, pd.DataFrame], tmp_path: Path
) -> None:
    out, card, frame = trained
    again = _train(frame, tmp_path)
    first, second = load_model(out), load_model(tmp_path)
    for kind in ("gbm", "scorecard"):
        np.testing.assert_array_equal(
            first.probability(frame, kind), second.probability(frame, kind)
        )
    assert again["metrics"] == card["metrics"] and again["decisions"] == card["decisions"]


def test_a_second_training_adds_a_version(tmp_path: Path) -> None:
    frame = credit_table(600, seed=3)
    options = TrainOptions(target="status", positive=("default",), effort="quick",
                           kind="scorecard", exclude=("account",))  # fmt: skip
    _train(frame, tmp_path, options)
    card = _train(frame, tmp_path, options)
    assert card["version"] == 2 and card["kind"] == "scorecard" and card["challenger"] is None
    assert [v["version"] for v in read_index(tmp_path)["versions"]] == [1, 2]
    assert load_model(tmp_path).card["version"] == 2 and load_model(tmp_path, 1).booster is None


def test_scores_and_reasons(trained: tuple[Path, dict, pd.DataFrame]) -> None:
    out, _, frame = trained
    model = load_model(out)
    scored = model.score(frame.head(200), n_reasons=3)
    assert scored["account"].tolist() == frame["account"].head(200).tolist()
    assert ((scored["probability"] > 0) & (scored["probability"] < 1)).all()
    # Higher score = lower risk, on the PDO/odds scale.
    assert np.corrcoef(scored["score"], scored["probability"])[0, 1] < -0.9
    assert scored["reason_1"].isin([*model.gbm_features, ""]).all() or model.kind == "scorecard"
    assert (scored["reason_1_zh"].str.len() > 0).mean() > 0.5
    worst = scored.sort_values("probability").iloc[-1]
    assert worst["reason_1_en"] and worst["reason_1_zh"]


def test_gbm_reasons_are_the_largest_shap_contributions(
    trained: tuple[Path, dict, pd.DataFrame],
) -> None:
    out, _, frame = trained
    model = load_model(out)
    model.kind = "gbm"
    rows = frame.head(50)
    scored = model.score(rows, n_reasons=2)
    x = fg.gbm_frame(rows, model.schema, model.engineered)
    from overdue.scoring.gbm import positional

    contrib = model.booster.predict(positional(x), pred_contrib=True)
    assert np.allclose(contrib.sum(axis=1), model.logit(rows, "gbm"))
    for i in range(len(rows)):
        top = int(np.argmax(contrib[i, :-1]))
        if contrib[i, top] > 0:
            assert scored["reason_1"].iloc[i] == model.gbm_features[top]
            assert scored["reason_1_logodds"].iloc[i] == pytest.approx(contrib[i, top], abs=1e-4)


def test_scorecard_reasons_are_the_most_points_lost(
    trained: tuple[Path, dict, pd.DataFrame],
) -> None:
    out, _, frame = trained
    model = load_model(out)
    model.kind = "scorecard"
    rows = frame.head(50)
    scored = model.score(rows, n_reasons=1)
    card = model.scorecard
    points, _ = card.points(fg.scorecard_frame(rows, model.schema, model.engineered))
    lost = np.array([v.best_points for v in card.variables])[None, :] - points
    for i in range(len(rows)):
        j = int(np.argmax(lost[i]))
        if lost[i, j] > 0:
            assert scored["reason_1"].iloc[i] == card.variables[j].name
            assert scored["reason_1_points_lost"].iloc[i] == pytest.approx(lost[i, j], abs=0.05)


def test_compiled_scorecard_equals_optbinning() -> None:
    frame = credit_table(2000, seed=5)
    y = (frame["status"] == "default").to_numpy().astype(int)
    features = frame.drop(columns=["status", "account"])
    schema = fg.build_schema(features)
    x = fg.scorecard_frame(features, schema, engineered=True)
    from overdue.scoring.scorecard import ScorecardParams

    params = ScorecardParams()
    card = fit_optbinning(x, y, schema, params)
    compiled = compile_card(card, schema, params)
    np.testing.assert_allclose(compiled.score(x), card.score(x), atol=1e-8)
    np.testing.assert_allclose(compiled.probability(x), card.predict_proba(x)[:, 1], atol=1e-10)
    assert "region" in [v.name for v in compiled.variables]  # a categorical characteristic
    known = x[x["region"].notna()]  # no missing text at all: a different code path
    np.testing.assert_allclose(compiled.score(known), card.score(known), atol=1e-8)
    restored = type(compiled).from_dict(json.loads(json.dumps(compiled.to_dict())))
    np.testing.assert_allclose(restored.score(x), card.score(x), atol=1e-8)


def test_drift_is_zero_on_the_training_data_and_flags_a_shift(
    trained: tuple[Path, dict, pd.DataFrame],
) -> None:
    out, _, frame = trained
    model = load_model(out)
    ref = model.card["drift_reference"]
    features = frame.drop(columns=["status", "account"])

    def run(data: pd.DataFrame) -> dict:
        scores = model.scaling.offset - model.scaling.factor * model.logit(data)
        return drift.drift(ref, data, model.schema, scores)

    same = run(features)
    assert same["psi"] == pytest.approx(0.0, abs=1e-12) and same["status"] == "stable"
    assert all(row["csi"] == pytest.approx(0.0, abs=1e-12) for row in same["csi"])
    shifted = features.copy()
    shifted["balance"] = shifted["balance"] * 3
    result = run(shifted)
    by_feature = {row["feature"]: row for row in result["csi"]}
    assert by_feature["balance"]["status"] == "shifted"
    assert by_feature["region"]["csi"] == pytest.approx(0.0, abs=1e-12)
    assert result["csi"][0]["feature"] == "balance"


def test_auc_on_the_synthetic_signal(trained: tuple[Path, dict, pd.DataFrame]) -> None:
    out, _, _ = trained
    holdout = credit_table(3000, seed=11)
    y = (holdout["status"] == "default").to_numpy().astype(int)
    model = load_model(out)
    assert evaluation.auc(y, model.probability(holdout)) > 0.7


def test_fast_scorecard_path_equals_the_text_path(trained: tuple[Path, dict, pd.DataFrame]) -> None:
    out, _, frame = trained
    model = load_model(out)
    rows = frame.head(300).copy()
    rows.loc[rows.index[:5], "region"] = "atlantis"  # never seen in training
    rows.loc[rows.index[5:10], "region"] = None
    x = fg.scorecard_frame(rows, model.schema, model.engineered)
    expected = model.scorecard.probability(x)
    np.testing.assert_allclose(model.probability(rows, "scorecard"), expected, atol=1e-12)

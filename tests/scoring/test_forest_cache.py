"""The compiled forest cached beside a LightGBM model file (``gbm_compiled.cached_forest``)
is the forest built from the booster, is rebuilt when the model file changes, and a model
loaded without its booster (what the daily scoring loads) scores exactly as the full one."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from overdue.scoring import gbm_compiled


def _booster(seed: int) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 4))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 0]) + rng.normal(size=400) > 0).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": seed}
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=15)


def _same(a: gbm_compiled.FlatForest, b: gbm_compiled.FlatForest) -> bool:
    return all(
        np.array_equal(getattr(a, f.name), getattr(b, f.name))
        and getattr(a, f.name).dtype == getattr(b, f.name).dtype
        for f in fields(gbm_compiled.FlatForest)
    )


def test_cache_is_the_booster_forest_and_follows_the_file(tmp_path: Path) -> None:
    model_file = tmp_path / "gbm.txt"
    first = _booster(1)
    first.save_model(str(model_file))
    built = gbm_compiled.cached_forest(model_file)
    assert (tmp_path / gbm_compiled.FOREST_FILE).is_file()
    assert _same(built, gbm_compiled.from_booster(first))
    assert _same(gbm_compiled.cached_forest(model_file), built)  # from the cache
    second = _booster(2)
    second.save_model(str(model_file))  # another model in the same file: the cache is stale
    assert _same(gbm_compiled.cached_forest(model_file), gbm_compiled.from_booster(second))
    (tmp_path / gbm_compiled.FOREST_FILE).write_bytes(b"not an npz")
    assert _same(gbm_compiled.cached_forest(model_file), gbm_compiled.from_booster(second))


def test_read_only_folder_builds_without_caching(tmp_path: Path, monkeypatch) -> None:
    model_file = tmp_path / "gbm.txt"
    _booster(3).save_model(str(model_file))

    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(np, "savez", refuse)
    forest = gbm_compiled.cached_forest(model_file)
    assert not any(tmp_path.glob("*.npz"))
    x = np.random.default_rng(0).normal(size=(50, 4))
    assert np.allclose(gbm_compiled.raw_scores(forest, x),
                       lgb.Booster(model_file=str(model_file)).predict(x, raw_score=True))  # fmt: skip


def test_model_without_booster_scores_as_the_full_model(tmp_path: Path) -> None:
    from synth import credit_table

    from overdue.scoring import registry
    from overdue.scoring.table_io import Fingerprint
    from overdue.scoring.train import TrainOptions, train_frame

    frame = credit_table(2000, seed=3)
    options = TrainOptions(target="status", id_column="account", positive=("default",),
                           kind="gbm", effort="quick", seed=7)  # fmt: skip
    folder, _card = train_frame(frame, Fingerprint("synthetic", "0" * 64, len(frame),
                                                   frame.shape[1]), tmp_path / "m", options,
                                "2025-01-31T00:00:00+00:00")  # fmt: skip
    assert (folder / gbm_compiled.FOREST_FILE).is_file()  # cached when the model was saved
    full = registry.load_model(folder)
    lean = registry.load_model(folder, booster=False)
    assert lean.booster is None and lean._forest is not None
    x = frame.drop(columns=["status"])
    got = lean.score(x, n_reasons=3, reason_method="path")
    pd.testing.assert_frame_equal(got, full.score(x, n_reasons=3, reason_method="path"))

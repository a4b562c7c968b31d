"""A model registry on disk: one folder per version, and an index of the versions.

    DIR/registry.json          {"versions": [{"version": 1, "path": "v1", "kind": …, …}, …]}
    DIR/v1/model.json          the model card: version, creation time, data fingerprint, target,
                               features, parameters, CV metrics, decisions, library versions,
                               drift reference
    DIR/v1/gbm.txt             LightGBM booster (``Booster.save_model`` text), when trained
    DIR/v1/scorecard.json      the compiled scorecard (what scoring uses), when trained
    DIR/v1/scorecard.joblib    optbinning's fitted Scorecard (for audit; version in the card)
    DIR/v1/scorecard_table.csv the card a person reads
    DIR/v1/oof.parquet         out-of-fold predictions from cross-validation (for the report)

A version folder is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from overdue.errors import BadInput
from overdue.scoring import features_generic as fg
from overdue.scoring import gbm_compiled
from overdue.scoring.model import ScoringModel
from overdue.scoring.scorecard import CompiledScorecard, ScorecardParams
from overdue.scoring.target import TargetSpec

REGISTRY_FILE = "registry.json"
MODEL_FILE = "model.json"
GBM_FILE = "gbm.txt"
SCORECARD_FILE = "scorecard.json"
SCORECARD_PICKLE = "scorecard.joblib"
SCORECARD_TABLE = "scorecard_table.csv"
OOF_FILE = "oof.parquet"
MAX_VERSIONS = 10_000


def read_index(root: Path) -> dict[str, Any]:
    path = root / REGISTRY_FILE
    if not path.is_file():
        return {"versions": []}
    return json.loads(path.read_text(encoding="utf-8"))


def next_version(root: Path) -> int:
    versions = [v["version"] for v in read_index(root)["versions"]]
    version = max(versions, default=0) + 1
    assert version <= MAX_VERSIONS, "too many versions in one registry"
    return version


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=float), encoding="utf-8")
    tmp.replace(path)


def save(
    root: Path, card: dict[str, Any], booster: Any | None, compiled: CompiledScorecard | None,
    optbinning_card: Any | None, oof: pd.DataFrame,
) -> Path:  # fmt: skip
    """Write one version (``card["version"]``) and add it to the index; return its folder."""
    version = int(card["version"])
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"v{version}"
    if final.exists():
        raise BadInput(f"{final}: this version already exists")
    work = root / f".v{version}.partial"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    if booster is not None:
        booster.save_model(str(work / GBM_FILE))
        gbm_compiled.cached_forest(work / GBM_FILE)  # the daily scoring's trees, cached now
    if compiled is not None:
        _write_json(work / SCORECARD_FILE, compiled.to_dict())
        compiled.table().to_csv(work / SCORECARD_TABLE, index=False)
    if optbinning_card is not None:
        import joblib

        joblib.dump(optbinning_card, work / SCORECARD_PICKLE)
    oof.to_parquet(work / OOF_FILE, index=False)
    _write_json(work / MODEL_FILE, card)
    work.rename(final)
    index = read_index(root)
    index["versions"].append({
        "version": version, "path": final.name, "kind": card["kind"],
        "created_at": card["created_at"], "data_sha256": card["data"]["sha256"],
        "cv_auc": card["metrics"]["cv_auc"],
    })  # fmt: skip
    _write_json(root / REGISTRY_FILE, index)
    return final


def version_dir(root: Path, version: int | None = None) -> Path:
    """The folder of ``version`` (latest when None); BadInput when there is none."""
    if not root.is_dir():
        raise BadInput(f"{root}: no such model folder")
    if (root / MODEL_FILE).is_file():
        return root  # a version folder given directly
    versions = read_index(root)["versions"]
    if not versions:
        raise BadInput(f"{root}: no model in this folder (train one with: overdue models train)")
    if version is None:
        entry = max(versions, key=lambda v: v["version"])
    else:
        matches = [v for v in versions if v["version"] == version]
        if not matches:
            raise BadInput(
                f"{root}: no version {version} (have {[v['version'] for v in versions]})"
            )
        entry = matches[0]
    return root / entry["path"]


def load_card(root: Path, version: int | None = None) -> tuple[Path, dict[str, Any]]:
    folder = version_dir(root, version)
    return folder, json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))


def load_model(root: Path, version: int | None = None, *, booster: bool = True) -> ScoringModel:
    """The model of ``root`` (its latest version or ``version``). ``booster=False``: a
    LightGBM part as its compiled forest only (``gbm_compiled.cached_forest``; no LightGBM
    import when the forest is cached): what batch scoring needs, not training or SHAP."""
    folder, card = load_card(root, version)
    gbm_file = folder / GBM_FILE
    lgb_booster, forest = None, None
    if gbm_file.is_file() and booster:
        import lightgbm as lgb

        lgb_booster = lgb.Booster(model_file=str(gbm_file))
    elif gbm_file.is_file():
        forest = gbm_compiled.cached_forest(gbm_file)
    compiled = None
    if (folder / SCORECARD_FILE).is_file():
        data = json.loads((folder / SCORECARD_FILE).read_text(encoding="utf-8"))
        compiled = CompiledScorecard.from_dict(data)
    return ScoringModel(
        card=card,
        schema=fg.FeatureSchema.from_dict(card["features"]["schema"]),
        target=TargetSpec.from_dict(card["target"]),
        id_column=card.get("id_column"),
        kind=card["kind"],
        engineered=bool(card["features"]["engineered"]),
        scaling=ScorecardParams(**card["parameters"]["scaling"]),
        booster=lgb_booster,
        gbm_features=card["features"].get("gbm_features"),
        scorecard=compiled,
        _forest=forest,
    )


def load_oof(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / OOF_FILE)

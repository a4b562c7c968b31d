"""A trained model ready to score: the champion (scorecard or LightGBM), maybe a challenger.

``ScoringModel.score(frame)`` gives, per row: the probability of bad, the score in points (same
PDO / base-odds scale for both kinds: higher = safer) and the top adverse factors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from overdue.scoring import features_generic as fg
from overdue.scoring import gbm, gbm_compiled, reasons
from overdue.scoring.scorecard import CompiledScorecard, ScorecardParams, score_from_logit
from overdue.scoring.target import TargetSpec

DEFAULT_REASONS = 3


@dataclass
class ScoringModel:
    card: dict[str, Any]  # the model card (model.json)
    schema: fg.FeatureSchema
    target: TargetSpec
    id_column: str | None
    kind: str  # the champion: "scorecard" or "gbm"
    engineered: bool
    scaling: ScorecardParams
    booster: Any | None = None
    gbm_features: list[str] | None = None
    scorecard: CompiledScorecard | None = None
    _forest: gbm_compiled.FlatForest | None = field(default=None, repr=False)

    def _scorecard_points(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        assert self.scorecard is not None, "this model has no scorecard part"
        arrays = fg.scorecard_arrays(frame, self.schema, self.engineered)
        levels = {c.name: c.levels for c in self.schema.columns if c.kind == "categorical"}
        return self.scorecard.points(arrays, levels)

    @property
    def has_gbm(self) -> bool:
        """A LightGBM part: its booster, or only its compiled forest (``load_model(...,
        booster=False)``: scores and path reasons, not SHAP)."""
        return self.booster is not None or self._forest is not None

    def forest(self) -> gbm_compiled.FlatForest:
        """The LightGBM part's compiled forest (built from the booster on first use)."""
        if self._forest is None:
            assert self.booster is not None, "this model has no LightGBM part"
            self._forest = gbm_compiled.from_booster(self.booster)
        return self._forest

    def gbm_logit(self, frame: pd.DataFrame) -> np.ndarray:
        """LightGBM's raw score for the rows of ``frame``, by the compiled tree loop."""
        matrix = fg.gbm_matrix(frame, self.schema, self.engineered)
        return gbm_compiled.raw_scores(self.forest(), matrix)

    # ---------------------------------------------------------------- predictions

    def logit(self, frame: pd.DataFrame, kind: str | None = None) -> np.ndarray:
        """Log-odds of bad from the champion (or the named kind if both are saved)."""
        kind = kind or self.kind
        if kind == "gbm":
            assert self.has_gbm, "this model has no LightGBM part"
            return self.gbm_logit(frame)
        assert self.scorecard is not None, "this model has no scorecard part"
        score = self._scorecard_points(frame)[0].sum(axis=1)
        return (self.scaling.offset - score) / self.scaling.factor

    def probability(self, frame: pd.DataFrame, kind: str | None = None) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(frame, kind)))

    def score(
        self, frame: pd.DataFrame, n_reasons: int = DEFAULT_REASONS, reason_method: str = "shap"
    ) -> pd.DataFrame:
        """Probability of bad, points and (``n_reasons`` > 0) reason codes, one row per input row.

        LightGBM reasons come from exact TreeSHAP (``reason_method="shap"``: LightGBM's own
        ``pred_contrib``) or from the compiled path attribution (``"path"``: each split's change
        of expected value, about 20 times faster; the same sum, not the same split between
        features)."""
        assert 0 <= n_reasons <= reasons.MAX_REASONS
        assert reason_method in ("shap", "path"), reason_method
        out: dict[str, Any] = {}
        if self.id_column and self.id_column in frame.columns:
            out[self.id_column] = frame[self.id_column].to_numpy()
        if self.kind == "gbm":
            assert self.has_gbm and self.gbm_features is not None
            logit = self.gbm_logit(frame)
            why = None
            if n_reasons:
                x = fg.gbm_frame(frame, self.schema, self.engineered)
                if reason_method == "path":
                    matrix = gbm_compiled.as_matrix(x)
                    contrib = gbm_compiled.path_contributions(self.forest(), matrix)
                else:
                    assert self.booster is not None, "SHAP reasons need the booster"
                    contrib = gbm.contributions(self.booster, x)
                described = [fg.describe(self.schema, f) for f in self.gbm_features]
                x.columns = self.gbm_features
                why = reasons.gbm_reasons(contrib, x, described, n_reasons)
        else:
            assert self.scorecard is not None
            points, index = self._scorecard_points(frame)
            logit = (self.scaling.offset - points.sum(axis=1)) / self.scaling.factor
            why = (
                reasons.scorecard_reasons(self.scorecard, points, index, n_reasons)
                if n_reasons
                else None
            )
        out["probability"] = 1.0 / (1.0 + np.exp(-logit))
        out["score"] = np.round(score_from_logit(logit, self.scaling), 2)
        result = pd.DataFrame(out)
        if why is not None:
            result = pd.concat([result, why.set_axis(result.index)], axis=1)
        return result

    # ---------------------------------------------------------------- inputs

    @property
    def input_columns(self) -> list[str]:
        return [c.name for c in self.schema.columns]

    def check_columns(self, frame: pd.DataFrame, file: str) -> None:
        from overdue.errors import BadInput

        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise BadInput(f"{file}: column {missing[0]!r}{more} missing (the model needs it)")

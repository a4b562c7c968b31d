"""The demo's models: train early-warning and collection on the demo book, score its last day.

``demo_models(book_dir, snapshots, out, seed=…)`` is what ``overdue demo`` calls. The demo's
batch runs daily over the last days of the book, so observation dates are taken every
``step_days`` (14) with a 14-day early-warning horizon; LightGBM only (``effort="quick"``)
to stay within about a minute at 50k accounts.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from overdue.portfolio.eod import snapshot_dates
from overdue.scoring.book import BookTrainOptions, train_book_model
from overdue.scoring.gains_svg import gains_svg
from overdue.scoring.score_eod import score_snapshot
from overdue.scoring.targets import TargetConfig

DEMO_TARGETS = (
    ("early_warning", TargetConfig("early_warning", horizon_days=14)),
    ("collection", TargetConfig("collection", cure_days=30)),
)


def demo_models(
    book_dir: Path, snapshots: Path, out: Path, *, seed: int, step_days: int = 14,
    effort: str = "quick", kind: str = "gbm",
) -> dict[str, Any]:  # fmt: skip
    """Train both models into ``out/<model>/``, score the last snapshot; figures and paths.

    Returns {"models": {name: {auc, ks, gini, capture_10, capture_20, n, base_rate,
    train_dates, valid_dates, model_dir, gains_svg}}, "scores": path, "scored": counts,
    "seconds": {...}}. A model that cannot be trained (too little history) is reported under
    "skipped" with the reason instead.
    """
    from overdue.errors import BadInput

    out.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).isoformat(timespec="seconds")  # the outermost edge: a timestamp
    result: dict[str, Any] = {"models": {}, "skipped": {}, "seconds": {}}
    cache: dict[date, pd.DataFrame] = {}  # each date's features, built once for both models
    for name, target in DEMO_TARGETS:
        started = time.perf_counter()
        options = BookTrainOptions(target, step_days=step_days, seed=seed, kind=kind,
                                   effort=effort)  # fmt: skip
        try:
            folder, info = train_book_model(
                book_dir, snapshots, out / name, options, created, cache=cache
            )
        except BadInput as exc:
            result["skipped"][name] = str(exc)
            continue
        champion = info["validation"]["champion"]
        svg = folder / "gains.svg"
        svg.write_text(gains_svg(champion["gains"], f"{name} — validation"), encoding="utf-8")
        result["models"][name] = {
            **{k: champion[k] for k in ("auc", "ks", "gini", "n", "base_rate", "capture_10",
                                        "capture_20")},
            "train_dates": info["train_dates"], "valid_dates": info["valid_dates"],
            "model_dir": str(folder), "gains_svg": str(svg),
        }  # fmt: skip
        result["seconds"][f"train_{name}"] = round(time.perf_counter() - started, 1)
    if result["models"]:
        started = time.perf_counter()
        last = snapshot_dates(snapshots)[-1]
        scored = score_snapshot(snapshots, last, out, book_dir=book_dir, full=True)
        result["scores"] = scored.path
        result["scored"] = scored.population
        result["seconds"]["score"] = round(time.perf_counter() - started, 1)
    return result

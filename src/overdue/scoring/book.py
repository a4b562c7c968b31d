"""Early-warning and collection models trained on the book's snapshot history.

``book_dataset`` builds the point-in-time features (``features.py``) at each observation date and
attaches the look-ahead labels (``targets.py``); ``train_book_model`` trains the generic trainer
(``train.py``: scorecard + LightGBM, auto by CV) on the earlier dates and validates on the later
ones (time-based validation), then writes ``book.json`` beside the model card.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overdue.errors import BadInput
from overdue.portfolio.engines import Backend, DuckDBBackend
from overdue.portfolio.eod import snapshot_dates
from overdue.scoring import evaluation, registry
from overdue.scoring.features import FEATURE_DIRECTIONS, FEATURES, FeatureSource, build_features
from overdue.scoring.table_io import Fingerprint
from overdue.scoring.targets import LABEL, TargetConfig, labels
from overdue.scoring.train import TrainOptions, train_frame

BOOK_FILE = "book.json"
MAX_OBSERVATION_DATES = 60
MIN_VALID_ROWS = 20


@dataclass(frozen=True)
class BookTrainOptions:
    target: TargetConfig
    step_days: int = 28  # observation dates at least this far apart
    valid_dates: int = 1  # the latest observation dates held out for validation
    seed: int = 42
    kind: str = "auto"
    effort: str = "standard"
    threads: int = 1
    max_rows: int = 1_000_000  # rows of the training part (a seeded sample above it)


def observation_dates(snapshot_dir: Path, step_days: int) -> list[date]:
    """Snapshot dates at least ``step_days`` apart, from the earliest on."""
    assert step_days >= 1
    picked: list[date] = []
    for day in snapshot_dates(snapshot_dir):
        if not picked or day >= picked[-1] + timedelta(days=step_days):
            picked.append(day)
    return picked[-MAX_OBSERVATION_DATES:]


def book_dataset(
    source: FeatureSource, dates: list[date], target: TargetConfig,
    log: Callable[[str], None] = lambda _m: None,
    cache: dict[date, pd.DataFrame] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Features + label for every date of ``dates`` (rows whose outcome is not known yet are
    left out). ``cache`` keeps each date's features for the next model trained on them."""
    frames = []
    for day in dates:
        if cache is not None and day in cache:
            feats = cache[day]
        else:
            feats = build_features(source, day)
            if cache is not None:
                cache[day] = feats
        part = labels(feats, day, source.snapshot_dir, target)
        log(f"{day}: {len(part)} rows in the population, {int(part[LABEL].sum())} bad")
        if len(part):
            frames.append(part)
    if not frames:
        raise BadInput(f"{source.snapshot_dir}: no observation with a known outcome")
    return pd.concat(frames, ignore_index=True)


def split_by_time(data: pd.DataFrame, valid_dates: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    days = sorted(set(data["as_of"]))
    if len(days) < valid_dates + 1:
        raise BadInput(
            f"need at least {valid_dates + 1} observation dates with known outcomes, have "
            f"{len(days)} ({', '.join(map(str, days))}): run the batch over more history"
        )
    cut = days[-valid_dates]
    return data[data["as_of"] < cut].reset_index(drop=True), data[data["as_of"] >= cut].reset_index(
        drop=True
    )


def _fingerprint(frame: pd.DataFrame, name: str) -> Fingerprint:
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return Fingerprint(file=name, sha256=digest.hexdigest(), rows=len(frame),
                       columns=frame.shape[1])  # fmt: skip


def capture(y: np.ndarray, risk: np.ndarray, share: float) -> float:
    """Share of all bads found among the riskiest ``share`` of rows."""
    assert 0 < share <= 1
    order = np.argsort(-risk, kind="stable")
    top = order[: max(1, round(share * len(risk)))]
    return float(y[top].sum() / max(1, y.sum()))


def book_metrics(y: np.ndarray, risk: np.ndarray) -> dict[str, Any]:
    s = evaluation.summary(y, risk)
    gains = evaluation.gains_table(y, risk)
    return {
        **s.to_dict(),
        "capture_10": capture(y, risk, 0.10),
        "capture_20": capture(y, risk, 0.20),
        "gains": gains.to_dict(orient="list"),
    }


def train_book_model(
    book_dir: Path, snapshot_dir: Path, out: Path, options: BookTrainOptions, created_at: str,
    backend: Backend | None = None, log: Callable[[str], None] = lambda _m: None,
    cache: dict[date, pd.DataFrame] | None = None,
) -> tuple[Path, dict[str, Any]]:  # fmt: skip
    """Train one book model into the registry ``out``; return (version folder, book.json)."""
    source = FeatureSource(backend or DuckDBBackend(), snapshot_dir, book_dir)
    dates = observation_dates(snapshot_dir, options.step_days)
    data = book_dataset(source, dates, options.target, log, cache)
    train, valid = split_by_time(data, options.valid_dates)
    if len(valid) < MIN_VALID_ROWS or valid[LABEL].nunique() < 2:
        raise BadInput(f"validation dates hold {len(valid)} rows: too few to validate")
    if len(train) > options.max_rows:
        train = train.sample(n=options.max_rows, random_state=options.seed).sort_index()
    frame = train[[*FEATURES, LABEL]].reset_index(drop=True)
    monotone = tuple(f"{f}={'increasing' if d > 0 else 'decreasing'}"
                     for f, d in FEATURE_DIRECTIONS.items() if d and frame[f].nunique() > 1)  # fmt: skip
    train_options = TrainOptions(
        target=LABEL, monotone=monotone, kind=options.kind, seed=options.seed,
        effort=options.effort, threads=options.threads,
    )  # fmt: skip
    fp = _fingerprint(frame, f"book:{book_dir.name}:{options.target.name}")
    folder, card = train_frame(frame, fp, out, train_options, created_at, log)
    model = registry.load_model(out, card["version"])
    y = valid[LABEL].to_numpy()
    valid_metrics = {"champion": book_metrics(y, model.probability(valid[list(FEATURES)]))}
    challenger = card.get("challenger")
    if challenger:
        valid_metrics[challenger] = book_metrics(
            y, model.probability(valid[list(FEATURES)], challenger)
        )
    info = {
        "model": options.target.model_name,
        "target": options.target.to_dict(),
        "kind": card["kind"],
        "version": card["version"],
        "train_dates": sorted({str(d) for d in train["as_of"]}),
        "valid_dates": sorted({str(d) for d in valid["as_of"]}),
        "train_rows": len(train),
        "train_bad_rate": float(train[LABEL].mean()),
        "valid_rows": len(valid),
        "valid_bad_rate": float(valid[LABEL].mean()),
        "validation": valid_metrics,
        "seed": options.seed,
        "book_dir": str(book_dir.resolve()),
        "features": list(FEATURES),
        "monotone": list(monotone),
    }
    (folder / BOOK_FILE).write_text(json.dumps(info, indent=2, default=float), encoding="utf-8")
    return folder, info


def read_book_info(model_dir: Path, version: int | None = None) -> dict[str, Any]:
    folder = registry.version_dir(model_dir, version)
    path = folder / BOOK_FILE
    if not path.is_file():
        raise BadInput(f"{folder}: not a book model (no {BOOK_FILE}; train with models book-train)")
    return dict(json.loads(path.read_text(encoding="utf-8")))

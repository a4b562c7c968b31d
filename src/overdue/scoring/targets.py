"""Targets on the book: who is in each model's population at ``as_of`` and what happened later.

Labels look ahead (they read the bucket transitions of later snapshots); features never do.

- ``early_warning``: accounts current at ``as_of`` whose next open item falls due within
  ``horizon_days``; bad = that item was not paid by the end of its due date + grace, i.e. the
  account entered M1 because of it (a ``cn`` transition into M1 whose DPD counts from that due
  date: ``on − dpd = due date``).
- ``early_warning_30``: the same population; bad = DPD reached ``dpd_threshold`` (30) within
  ``window_days`` (60) of that due date.
- ``collection``: accounts in M1 at ``as_of`` (with monthly observations: the ones that entered
  M1 in the last 30 days); bad = *not* cured (back to M0) within ``cure_days`` (30) — so a high
  score means "needs help", a low one "will pay on its own".

An observation counts only when the snapshots reach far enough to see its outcome
(``label_until``); the others are left out, never labelled good by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from overdue.errors import BadInput
from overdue.portfolio.eod import snapshot_dates, snapshot_path

TARGETS = ("early_warning", "early_warning_30", "collection")
MODEL_NAMES = {"early_warning": "early_warning", "early_warning_30": "early_warning",
               "collection": "collection"}  # fmt: skip
LABEL = "bad"


@dataclass(frozen=True)
class TargetConfig:
    name: str = "early_warning"
    horizon_days: int = 31  # next due date within this many days of as_of
    label_wait_days: int = 10  # days after the due date by which grace has surely ended
    dpd_threshold: int = 30
    window_days: int = 60
    cure_days: int = 30

    def __post_init__(self) -> None:
        if self.name not in TARGETS:
            raise BadInput(f"--target {self.name!r}: use one of {', '.join(TARGETS)}")
        assert 1 <= self.horizon_days <= 366 and 0 <= self.label_wait_days <= 60
        assert 1 <= self.dpd_threshold <= 180 and 1 <= self.window_days <= 366
        assert 1 <= self.cure_days <= 366

    @property
    def model_name(self) -> str:
        return MODEL_NAMES[self.name]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def in_population(features: pd.DataFrame, config: TargetConfig) -> np.ndarray:
    """Rows of a feature table (``features.build_features``) in the target's population."""
    if config.name == "collection":
        return (features["bucket_cn"] == "M1").to_numpy()
    days = features["days_to_next_due"].to_numpy(dtype="float64")
    current = (features["status"] == "current").to_numpy()
    return current & np.isfinite(days) & (days <= config.horizon_days)


def label_until(features: pd.DataFrame, as_of: date, config: TargetConfig) -> pd.Series:
    """The last date each row's outcome needs to be known."""
    if config.name == "collection":
        return pd.Series([as_of + timedelta(days=config.cure_days)] * len(features))
    wait = config.label_wait_days if config.name == "early_warning" else config.window_days
    due = pd.to_datetime(features["next_due_date"])
    return (due + pd.Timedelta(days=wait)).dt.date


def later_transitions(snapshot_dir: Path, after: date) -> pd.DataFrame:
    """Every bucket transition dated after ``after``, from the snapshots after it."""
    frames = []
    for day in snapshot_dates(snapshot_dir):
        folder = snapshot_path(snapshot_dir, day) / "transitions"
        if day > after and folder.is_dir():
            cols = ["account_id", "on", "scheme", "to_bucket", "dpd"]
            frames.append(pq.read_table(folder, columns=cols).to_pandas())
    if not frames:
        return pd.DataFrame(columns=["account_id", "on", "scheme", "to_bucket", "dpd"])
    out = pd.concat(frames, ignore_index=True).drop_duplicates()
    out["on"] = pd.to_datetime(out["on"])
    return out[out["on"] > pd.Timestamp(after)]


def labels(
    features: pd.DataFrame, as_of: date, snapshot_dir: Path, config: TargetConfig
) -> pd.DataFrame:
    """The population at ``as_of`` with its outcome: the feature rows plus ``bad`` (0/1).

    A date whose outcomes the snapshots cannot all see yet gives no rows.
    """
    days = snapshot_dates(snapshot_dir)
    last = days[-1] if days else as_of
    pop = features.loc[in_population(features, config)].reset_index(drop=True)
    known = (label_until(pop, as_of, config) <= last).to_numpy(dtype=bool)
    if not known.all():  # a date counts whole or not at all (no bias towards early due dates)
        pop = pop.iloc[:0]
    moves = later_transitions(snapshot_dir, as_of)
    moves = moves[moves["account_id"].isin(pop["account_id"])]
    bad_ids = _bad_accounts(pop, moves, as_of, config)
    pop[LABEL] = pop["account_id"].isin(bad_ids).astype("int64")
    return pop


def _bad_accounts(
    pop: pd.DataFrame, moves: pd.DataFrame, as_of: date, config: TargetConfig
) -> set[str]:
    if config.name == "collection":
        end = pd.Timestamp(as_of + timedelta(days=config.cure_days))
        cured = moves[(moves["scheme"] == "cn") & (moves["to_bucket"] == "M0")
                      & (moves["on"] <= end)]  # fmt: skip
        return set(pop["account_id"]) - set(cured["account_id"])
    due = pop.set_index("account_id")["next_due_date"]
    m = moves.join(pd.to_datetime(due).rename("due"), on="account_id")
    if config.name == "early_warning":
        counted_from = pd.to_datetime(m["on"]) - pd.to_timedelta(
            m["dpd"].astype("float64"), unit="D"
        )
        hit = (m["scheme"] == "cn") & (m["to_bucket"] == "M1") & (counted_from == m["due"])
    else:
        end = m["due"] + pd.Timedelta(days=config.window_days)
        hit = (m["dpd"] >= config.dpd_threshold) & (m["on"] <= end)
    return set(m.loc[hit, "account_id"])

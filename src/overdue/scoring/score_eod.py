"""Scores inside the end-of-day batch: after the snapshot of ``as_of`` is written, score the
accounts that need a fresh score and carry the others' previous scores forward.

    SNAPSHOT_DIR/as_of=D/scores/part-0.parquet
        account_id, model ("early_warning" | "collection"), model_version ("v3"),
        score (probability of bad, 0..1), score_as_of (date32: when it was computed),
        reason_1..reason_3 (feature codes, the top adverse factors; "" when none)

An account is in the early-warning population when it is current and its next item falls due
within the model's horizon, in the collection population when it is in M1. It gets a fresh
score (``needs_fresh_score``) when it has no previous score from the same model version, its
state changed since the previous snapshot (status, bucket, paid or waived totals, overdue amount
before penalty: DPD aging and penalty accrual alone are not events), it became delinquent, its
next due date is inside the ``warning_days`` (7) window and its previous score predates that
window, or its previous score is older than ``MAX_SCORE_AGE_DAYS`` (7); the others keep their
previous row (with its ``score_as_of``).

``spread_days`` (S, ``SPREAD_DAYS`` by default) levels the due-date wave: an account's own
window is ``warning_days + h`` days, with ``h`` in 0..S a stable hash of its account id
(``spread_offsets``), so the accounts sharing a due date take their window-entry score over
S + 1 days instead of all on one day; a state change still gives a fresh score the same day.
S = 0 is the plain rule.

DuckDB runs the daily path of ``daily_items`` / ``daily_features`` (plain SQL and Arrow, state
kept beside each snapshot); Spark runs the Ibis definition (``features.feature_expr``), the
finishing step and the models inside ``mapInArrow`` on its executors. Both give the same
features and scores (tested).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.errors import BadInput
from overdue.portfolio.account_handoff import AccountHandoff
from overdue.portfolio.engines import Backend, make_backend
from overdue.portfolio.eod import (
    snapshot_dates,
    snapshot_files,
    snapshot_item_files,
    snapshot_path,
)
from overdue.portfolio.kernel import ACCOUNT_BASE_SCHEMA, ITEM_ROW_SCHEMA
from overdue.scoring import daily_features, daily_items, gbm_compiled, promises, reasons, registry
from overdue.scoring import features_generic as fg
from overdue.scoring.book import read_book_info
from overdue.scoring.features import (
    FEATURES,
    FeatureSource,
    account_payments,
    feature_expr,
    finish,
    raw_features_in_parts,
)
from overdue.scoring.model import ScoringModel
from overdue.scoring.targets import TargetConfig, in_population

MODELS = ("early_warning", "collection")
N_REASONS = 3
WARNING_DAYS = 7
SCORES_DIR = "scores"
SCORE_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("model", pa.string()),
        ("model_version", pa.string()),
        ("score", pa.float64()),
        ("score_as_of", pa.date32()),
        *[(f"reason_{k}", pa.string()) for k in range(1, N_REASONS + 1)],
    ]
)
CHANGE_COLUMNS = daily_items.CHANGE_COLUMNS
MAX_SCORE_AGE_DAYS = 7  # a score is refreshed at least weekly, whatever happened
# Window-entry scores spread over this many extra days (0: the plain rule). 2 on the synthetic
# book, where a card statement is booked 9 days before its due date: windows of 7 + 0..2 days all
# open once the item exists (a larger spread would put its surplus on the statement day). The
# spread scores rank as well as the scores taken on entry (docs/models.md, daily scoring).
SPREAD_DAYS = 2
MAX_SPREAD_DAYS = 14


@dataclass
class BookModel:
    name: str  # "early_warning" | "collection"
    version: str  # "v3"
    model: ScoringModel
    target: TargetConfig
    book_dir: str | None = None  # the book it was trained on


@dataclass
class ScoreResult:
    as_of: str
    engine: str
    path: str
    population: dict[str, int] = field(default_factory=dict)
    fresh: dict[str, int] = field(default_factory=dict)
    carried: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    # where the item aggregates came from: "summary" (the account rows) or "items" (item rows)
    items: dict[str, int | str] = field(default_factory=dict)


_CACHE: dict[tuple[str, str], BookModel] = {}


def load_book_models(models_dir: Path) -> list[BookModel]:
    """The latest version of each model under ``models_dir`` (``early_warning/``,
    ``collection/``), cached per process (Spark executors load them once)."""
    found = []
    for name in MODELS:
        root = models_dir / name
        if not (root / registry.REGISTRY_FILE).is_file():
            continue
        folder = registry.version_dir(root)
        key = (str(folder.resolve()), name)
        if key not in _CACHE:
            info = read_book_info(root)
            target = TargetConfig(**info["target"])
            model = registry.load_model(root, booster=False)  # the compiled forest only
            _warm_up(model)
            _CACHE[key] = BookModel(name, folder.name, model, target, info.get("book_dir"))
        found.append(_CACHE[key])
    if not found:
        raise BadInput(
            f"{models_dir}: no book model (expected {models_dir}/early_warning or "
            f"{models_dir}/collection; train with: overdue models book-train)"
        )
    return found


def _warm_up(model: ScoringModel) -> None:
    """Load a LightGBM model's compiled loop now, so that loading counts it and not the
    first day's scoring."""
    if model.kind != "gbm" or not model.has_gbm:
        return
    width = len(model.gbm_features or [])
    rows = np.full((2, width), np.nan, order="F")  # the layout of ``fg.gbm_matrix``'s rows
    gbm_compiled.path_reasons_and_raw(model.forest(), rows, N_REASONS)


def _empty_scores() -> pd.DataFrame:
    return SCORE_SCHEMA.empty_table().to_pandas()


def score_rows(features: pd.DataFrame, models: list[BookModel], as_of: date) -> pd.DataFrame:
    """Score rows (SCORE_SCHEMA) for the feature rows of each model's population."""
    return _recoded(score_table(features, models, as_of), False).to_pandas()


def score_table(features: pd.DataFrame, models: list[BookModel], as_of: date) -> pa.Table:
    """``score_rows`` in Arrow, the ``LOW_CARDINALITY`` columns dictionary-encoded (built from
    the reasons' positions among the model's features: no string per row and reason)."""
    return score_table_and_rows(features, models, as_of)[0]


def score_table_and_rows(
    features: pd.DataFrame, models: list[BookModel], as_of: date
) -> tuple[pa.Table, np.ndarray]:
    """``score_table`` and each score's row in ``features``."""
    parts, at = [], []
    ids = features["account_id"].to_numpy(dtype=object)
    for bm in models:
        # the population's rows only, read column by column: no copy of the frame
        rows = np.flatnonzero(in_population(features, bm.target))
        if not len(rows):
            continue
        probability, order, names = _probability_and_codes(bm.model, features, rows)
        n = len(rows)
        columns = {
            "account_id": pa.array(ids[rows], pa.string()),
            "model": _constant(bm.name, n),
            "model_version": _constant(bm.version, n),
            "score": pa.array(probability, pa.float64()),
            "score_as_of": pa.array(np.full(n, as_of, "datetime64[D]"), pa.date32()),
        }  # fmt: skip
        dictionary = pa.array([*names, reasons.NO_REASON], pa.string())
        for k in range(1, N_REASONS + 1):  # -1 (no reason) picks the last entry, ""
            indices = np.where(order[:, k - 1] >= 0, order[:, k - 1], len(names))
            columns[f"reason_{k}"] = pa.DictionaryArray.from_arrays(
                pa.array(indices.astype(np.int32)), dictionary
            )
        parts.append(pa.table(columns, schema=ENCODED_SCHEMA))
        at.append(rows)
    if not parts:
        return ENCODED_SCHEMA.empty_table(), np.zeros(0, np.int64)
    return pa.concat_tables(parts), np.concatenate(at).astype(np.int64)


def _constant(value: str, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array([value]))


def _probability_and_codes(
    model: ScoringModel, frame: pd.DataFrame, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The probability of bad and the top ``N_REASONS`` reason codes of the rows ``rows`` of
    ``frame``: positions into the returned code names (rows × ``N_REASONS``; -1: none).

    LightGBM: the compiled path attribution, codes only (the same codes as
    ``model.score(..., reason_method="path")`` without building the zh-CN/en texts the daily
    run does not store); scorecards: ``model.score``.
    """
    if model.kind != "gbm":
        frame = frame.iloc[rows][list(FEATURES)].reset_index(drop=True)
        scored = model.score(frame, n_reasons=N_REASONS, reason_method="path")
        columns = []
        for k in range(1, N_REASONS + 1):
            column = scored[f"reason_{k}"].astype(object)
            columns.append(column.where(column.notna(), "").astype(str).to_numpy())
        names, inverse = np.unique(np.stack(columns, axis=1), return_inverse=True)
        order = inverse.reshape(len(frame), N_REASONS).astype(np.int64)
        blank = np.flatnonzero(names == "")
        if len(blank):
            order[order == blank[0]] = -1
        return scored["probability"].to_numpy(dtype="float64"), order, [str(n) for n in names]
    assert model.gbm_features is not None, "a gbm model without its feature list"
    forest = model.forest()
    x = fg.gbm_matrix(frame, model.schema, model.engineered, rows)
    # one walk per tree and row gives the reasons and the raw score (= model.gbm_logit's)
    order, logit, odd = gbm_compiled.path_reasons_and_raw(forest, x, N_REASONS)
    if odd.any():  # a non-finite contribution: reasons._top_k sorts those rows
        contrib, _raw = gbm_compiled.path_contributions_and_raw(forest, x[odd])
        order[odd] = reasons._top_k(contrib, N_REASONS)[0]
    return 1.0 / (1.0 + np.exp(-logit)), order, list(model.gbm_features)


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=SCORE_SCHEMA, preserve_index=False)


# -- which accounts need a fresh score -----------------------------------------------------------


def _state(source: FeatureSource, day: date) -> ir.Table:
    files = snapshot_files(source.snapshot_dir, day)
    return source.backend.read_table(files, ACCOUNT_BASE_SCHEMA, None)  # any format


def _item_states(source: FeatureSource, day: date) -> ir.Table:
    """The snapshot's item rows (its ``items/`` side table: one row per item ledger)."""
    files = snapshot_item_files(source.snapshot_dir, day)
    return source.backend.read_table(files, ITEM_ROW_SCHEMA, None)


def selection_expr(
    source: FeatureSource, as_of: date, previous: date | None, warning_days: int
) -> ir.Table:
    """Per account of the snapshot: ``due_soon``, ``new_delinquent`` and ``changed``."""
    now = _state(source, as_of)
    items = _item_states(source, as_of)
    i = items
    unpaid = i["unpaid_principal_fen"] + i["unpaid_interest_fen"] + i["unpaid_fee_fen"]
    upcoming = (i["due_date"] > ibis.literal(as_of, type="date")) & (unpaid > 0)
    due = items.group_by(items.account_id.name("did")).aggregate(
        next_due_date=ibis.ifelse(upcoming, i["due_date"], ibis.null("date")).min()
    )
    base = now.select("account_id", "delinquent_since", *CHANGE_COLUMNS)
    base = base.left_join(due, base.account_id == due.did).drop("did")
    soon = base.next_due_date.notnull() & (
        base.next_due_date <= ibis.literal(as_of + timedelta(days=warning_days), type="date")
    )
    if previous is None:
        return base.select(
            "account_id", "status", "bucket_cn", "next_due_date", due_soon=soon,
            new_delinquent=base.delinquent_since.notnull(), changed=ibis.literal(True),
        )  # fmt: skip
    prev = _state(source, previous)
    prev = prev.select(pid=prev.account_id, **{f"p_{c}": prev[c] for c in CHANGE_COLUMNS})
    joined = base.mutate(due_soon=soon).left_join(prev, base.account_id == prev.pid)
    changed = joined.pid.isnull()
    for c in daily_items.STRING_CHANGE:
        changed = changed | (joined[c].fill_null("") != joined[f"p_{c}"].fill_null(""))
    for c in daily_items.EVENT_NUMBERS:
        changed = changed | (joined[c].fill_null(-1) != joined[f"p_{c}"].fill_null(-1))
    now_due = (joined.total_overdue_fen - joined.penalty_accrued_fen).fill_null(-1)
    was_due = (joined.p_total_overdue_fen - joined.p_penalty_accrued_fen).fill_null(-1)
    changed = changed | (now_due != was_due)
    since = ibis.literal(previous, type="date")
    return joined.select(
        "account_id",
        "status",
        "bucket_cn",
        "next_due_date",
        due_soon=joined.due_soon,
        new_delinquent=joined.delinquent_since.notnull() & (joined.delinquent_since > since),
        changed=changed,
    )


FLAG_COLUMNS = ["account_id", "status", "bucket_cn", "next_due_date", "due_soon",
                "new_delinquent", "changed"]  # fmt: skip


def needs_fresh_score(
    flags: pd.DataFrame, ids: pa.ChunkedArray | pa.Array, prev_ids: pa.ChunkedArray | pa.Array,
    scored_on: np.ndarray, as_of: date, warning_days: int, *, back: pa.Array | None = None,
    spread_days: int = 0,
) -> np.ndarray:  # fmt: skip
    """Which accounts ``ids`` (their flags: ``selection_expr``'s columns) need a fresh score, given
    the previous scores' account ids and dates (``prev_ids``, ``scored_on``: current model
    versions only): no previous score, a state change, a new delinquency, or a next due date
    inside the warning window whose previous score was computed before that window opened
    (``next_due_date - warning_days``): one fresh score on entering the window, not one every
    day inside it; or a previous score older than ``MAX_SCORE_AGE_DAYS``. With ``spread_days``
    (S) an account's window opens ``spread_offsets`` (0..S) days earlier than
    ``next_due_date - warning_days``."""
    assert 0 <= spread_days <= MAX_SPREAD_DAYS
    scored_on = np.asarray(scored_on, dtype="datetime64[D]")
    last = np.full(len(flags), np.datetime64("NaT"), dtype="datetime64[D]")
    if back is None:
        at = pc.index_in(ids, value_set=prev_ids)
        has_prev = at.is_valid().to_numpy(zero_copy_only=False)
        position = at.fill_null(0).to_numpy(zero_copy_only=False)
        if len(scored_on):
            last = np.where(has_prev, scored_on[position], last)
    else:  # ``back``: each previous row's position in ``ids`` (the first row of an id wins)
        found = back.is_valid().to_numpy(zero_copy_only=False)
        where = np.asarray(back.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
        has_prev = np.zeros(len(flags), dtype=bool)
        has_prev[where[found]] = True
        last[where[found][::-1]] = scored_on[found][::-1]
    assert not (last > np.datetime64(as_of, "D")).any(), "a previous score from the future"
    due = pd.to_datetime(flags["next_due_date"]).to_numpy(dtype="datetime64[D]")
    opened = due - np.timedelta64(warning_days, "D")
    if spread_days:  # only the accounts whose window may open today need their offset
        near = opened - np.timedelta64(spread_days, "D") <= np.datetime64(as_of, "D")
        extra = np.zeros(len(flags), np.int64)
        column = pa.chunked_array([ids]) if isinstance(ids, pa.Array) else ids
        extra[near] = spread_offsets(column.filter(pa.array(near)), spread_days)
        opened = opened - extra.astype("timedelta64[D]")
    soon = flags["due_soon"].to_numpy(dtype=bool) | (opened <= np.datetime64(as_of, "D"))
    entered = soon & ~(last >= opened)
    changed = flags["changed"].to_numpy(dtype=bool) | flags["new_delinquent"].to_numpy(dtype=bool)
    stale = ~(last >= np.datetime64(as_of, "D") - np.timedelta64(MAX_SCORE_AGE_DAYS, "D"))
    return ~has_prev | changed | entered | stale


_HASH_STEP = np.uint64(0x100000001B3)  # FNV's 64-bit prime: the position weights' base


def spread_offsets(ids: pa.ChunkedArray | pa.Array, spread_days: int) -> np.ndarray:
    """Per account id, its window's extra days (0..``spread_days``): a stable hash of the id's
    bytes (the same on every day, process and machine; no Python per id)."""
    assert 0 <= spread_days <= MAX_SPREAD_DAYS
    column = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    column = pc.cast(column, pa.large_string())
    assert column.null_count == 0, "an account without an id"
    if not len(column) or not spread_days:
        return np.zeros(len(column), np.int64)
    offsets = np.frombuffer(column.buffers()[1], np.int64)[column.offset:][: len(column) + 1]
    data = np.frombuffer(column.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    starts, lengths = offsets[:-1] - offsets[0], np.diff(offsets)
    assert (lengths > 0).all(), "an empty account id"
    weights = np.ones(int(lengths.max()), np.uint64)
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 on purpose
        weights[1:] = np.cumprod(np.full(len(weights) - 1, _HASH_STEP, np.uint64))
        if (lengths == lengths[0]).all():  # ids of one length (the usual case): by column
            table = data.reshape(len(lengths), int(lengths[0]))
            h = np.zeros(len(lengths), np.uint64)
            for k in range(table.shape[1]):
                h += (table[:, k].astype(np.uint64) + np.uint64(1)) * weights[k]
        else:
            position = np.arange(len(data), dtype=np.int64) - np.repeat(starts, lengths)
            h = np.add.reduceat((data.astype(np.uint64) + np.uint64(1)) * weights[position],
                                starts)  # fmt: skip
        h ^= h >> np.uint64(33)  # murmur3's finaliser: the last digits mixed into every bit
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return (h % np.uint64(spread_days + 1)).astype(np.int64)


SCORES_COPY = "scores.arrow"  # the scores file's rows in Arrow IPC, for the next day's run


def _scores_fingerprint(file: Path) -> str:
    st = file.stat()
    return daily_features._fingerprint(["scores/1", st.st_ino, st.st_mtime_ns, st.st_size])


ROW_COLUMN = "row"  # in the Arrow copy: each score's account's position among that day's rows


def _previous_scores(
    snapshot_dir: Path, previous: date | None
) -> tuple[pa.Table, np.ndarray | None]:
    """The previous snapshot's scores (``LOW_CARDINALITY`` columns dictionary-encoded): from
    their Arrow copy in its feature state when it is the copy of the file there now (no
    decoding), else from the Parquet file; and, from the copy, each row's account position
    among that day's account rows (``ROW_COLUMN``)."""
    if previous is None:
        return _recoded(SCORE_SCHEMA.empty_table(), True), None
    there = snapshot_path(snapshot_dir, previous)
    folder = there / SCORES_DIR
    if not folder.is_dir():
        return _recoded(SCORE_SCHEMA.empty_table(), True), None
    files = sorted(folder.glob("*.parquet"))
    if len(files) == 1:
        copy = daily_features._read_state(there, SCORES_COPY, _scores_fingerprint(files[0]))
        if copy is not None and copy.schema.equals(PLAIN_COPY_SCHEMA):  # written before 2026-11
            copy = _recoded(copy, True)
        if copy is not None and copy.schema.equals(COPY_SCHEMA):
            rows = np.asarray(copy[ROW_COLUMN].to_numpy(), np.int64)
            return copy.drop_columns([ROW_COLUMN]), rows
    return _recoded(pq.read_table(folder, schema=SCORE_SCHEMA), True), None


# the columns of few distinct values: dictionary-encoded in the Arrow copy and while carried
# (filters and takes move 4-byte indices, not strings); plain strings in the Parquet file
LOW_CARDINALITY = ("model", "model_version", *[f"reason_{k}" for k in range(1, N_REASONS + 1)])
PLAIN_COPY_SCHEMA = SCORE_SCHEMA.append(pa.field(ROW_COLUMN, pa.int64()))
COPY_SCHEMA = pa.schema([
    pa.field(f.name, pa.dictionary(pa.int32(), pa.string())) if f.name in LOW_CARDINALITY else f
    for f in PLAIN_COPY_SCHEMA
])  # fmt: skip
ENCODED_SCHEMA = COPY_SCHEMA.remove(COPY_SCHEMA.get_field_index(ROW_COLUMN))  # score_table's
SCORE_ORDER = [("model", "ascending"), ("account_id", "ascending")]


def _recoded(table: pa.Table, encoded: bool) -> pa.Table:
    """``table`` with its ``LOW_CARDINALITY`` columns dictionary-encoded (one dictionary per
    column) or as plain strings; the other columns and the schema's metadata as they were."""
    metadata = table.schema.metadata
    for k, kind in enumerate(table.schema):
        if kind.name not in LOW_CARDINALITY or pa.types.is_dictionary(kind.type) == encoded:
            continue
        column = table.column(k)
        if encoded:
            column = pa.chunked_array([pc.dictionary_encode(column.combine_chunks())])
        else:
            column = column.cast(pa.string())
        table = table.set_column(k, pa.field(kind.name, column.type), column)
    return table.replace_schema_metadata(metadata)


def _in_score_order(
    fresh: pa.Table, previous: pa.Table, kept: np.ndarray | None = None
) -> pa.Table:
    """The fresh scores and the carried ones (the rows ``kept`` of ``previous``, in that
    order; all of them by default) in one table sorted by model and account id, as
    ``concat_tables([fresh, previous.take(kept)]).sort_by(SCORE_ORDER)``: the carried rows
    come from the previous day's file, already in that order, so only the fresh rows are
    sorted and merged into them (``daily_items.merged_order``) and one take builds the table;
    a full sort when the carried rows are not in order. The ``LOW_CARDINALITY`` columns come
    out encoded as ``previous``'s are (dictionary or not)."""
    kept = np.arange(previous.num_rows) if kept is None else np.asarray(kept, np.int64)
    encoded = any(pa.types.is_dictionary(f.type) for f in previous.schema)
    keys = pa.table({"model": fresh["model"].cast(pa.string()), "account_id": fresh["account_id"]})
    fresh = fresh.take(pc.sort_indices(keys, SCORE_ORDER))
    both = pa.concat_tables([_recoded(fresh, encoded), previous])
    if encoded:
        both = both.unify_dictionaries()
    at = np.concatenate([np.arange(fresh.num_rows), fresh.num_rows + kept])  # rows of ``both``
    carried_models = previous["model"].take(pa.array(kept))
    if fresh["model"].null_count or carried_models.null_count:  # a sort puts nulls last
        return _sorted_fully(both.take(pa.array(at)), encoded)
    names = sorted({*_entries(fresh["model"]), *_entries(carried_models)})
    order = daily_items.merged_order(
        _model_codes(fresh["model"], names), fresh["account_id"].combine_chunks(),
        _model_codes(carried_models, names),
        previous["account_id"].take(pa.array(kept)).combine_chunks(),
    )  # fmt: skip
    if order is None:
        return _sorted_fully(both.take(pa.array(at)), encoded)
    return both.take(pa.array(at[order]))


def _sorted_fully(table: pa.Table, encoded: bool) -> pa.Table:
    return _recoded(_recoded(table, False).sort_by(SCORE_ORDER), encoded)


def _entries(column: pa.ChunkedArray) -> list[str]:
    """The distinct values of a string column without nulls (with a dictionary's unused
    entries when it is encoded)."""
    if _one_encoded_chunk(column):
        return [str(v) for v in column.chunk(0).dictionary.to_pylist()]
    return [str(v) for v in pc.unique(column.cast(pa.string())).to_pylist()]


def _model_codes(column: pa.ChunkedArray, names: list[str]) -> np.ndarray:
    """Each value's position in ``names`` (which holds them all)."""
    if _one_encoded_chunk(column):
        chunk = column.chunk(0)
        position = {name: k for k, name in enumerate(names)}
        mapping = np.array([position[v] for v in chunk.dictionary.to_pylist()], np.int64)
        return mapping[_codes(chunk)] if len(mapping) else np.zeros(len(chunk), np.int64)
    found = pc.index_in(column, value_set=pa.array(names, pa.string()))
    assert found.null_count == 0, "a model name outside the names"
    return np.asarray(found.to_numpy(zero_copy_only=False), np.int64)


def _back(
    prev_scores: pa.Table, prev_rows: np.ndarray | None, prev_at: np.ndarray | None,
    ids: pa.ChunkedArray | pa.Array,
) -> pa.Array:  # fmt: skip
    """Each previous score's account's position among today's ``ids`` (null: gone). From the
    positions kept with the scores and today's alignment to the previous rows (no hash of a
    million ids) when both are known and they agree on the ids, else by ``index_in``."""
    if prev_rows is not None and prev_at is not None and len(prev_rows):
        size = int(max(prev_rows.max(), prev_at.max(initial=-1))) + 1
        today = np.full(size, -1, np.int64)
        there = prev_at >= 0
        today[prev_at[there]] = np.flatnonzero(there)
        back = today[prev_rows] if prev_rows.min() >= 0 else np.full(len(prev_rows), -1)
        found = back >= 0
        same = pc.equal(pc.take(ids, pa.array(back[found])),
                        prev_scores["account_id"].filter(pa.array(found)))  # fmt: skip
        if pc.all(same).as_py() is not False:
            return pa.array(back, pa.int64(), mask=~found)
    return pc.index_in(prev_scores["account_id"], value_set=ids)


def _ids_table(backend: Backend, ids: list[str], work: Path) -> ir.Table:
    file = work / "fresh_ids.parquet"
    schema = pa.schema([("account_id", pa.string())])
    pq.write_table(pa.table({"account_id": pa.array(ids, pa.string())}, schema=schema), file)
    return backend.read_table([file], schema, None)


# -- the run -------------------------------------------------------------------------------------


def score_snapshot(
    snapshot_dir: Path, as_of: date, models_dir: Path, engine: str = "duckdb", *,
    book_dir: Path | None = None, backend: Backend | None = None,
    warning_days: int = WARNING_DAYS, full: bool = False, prune: bool = True,
    spread_days: int = SPREAD_DAYS, handoff: AccountHandoff | None = None,
) -> ScoreResult:  # fmt: skip
    """Score the snapshot of ``as_of`` into ``SNAPSHOT_DIR/as_of=D/scores/``.

    ``book_dir`` is the book the batch ran on (account and payment features); by default the
    book the models were trained on. ``full`` scores every account of each population (no
    carry-forward). ``prune`` removes the kept feature state of the snapshots before the
    previous one (the next day reads only this day's). ``spread_days`` spreads the
    window-entry scores of accounts sharing a due date over that many more days
    (``needs_fresh_score``). ``handoff``: the account rows the batch of this process wrote
    (``overdue eod --models``), taken instead of reading the snapshot's account files back.
    """
    assert 0 <= warning_days <= 60
    days = snapshot_dates(snapshot_dir)
    if as_of not in days:
        raise BadInput(f"{snapshot_dir}: no snapshot for {as_of} (run overdue eod first)")
    earlier = [d for d in days if d < as_of]
    previous = earlier[-1] if earlier else None
    started = time.perf_counter()
    models = load_book_models(models_dir)
    loaded = time.perf_counter() - started
    if book_dir is None:
        trained_on = [bm.book_dir for bm in models if bm.book_dir]
        if not trained_on:
            raise BadInput("score_snapshot: give book_dir (the book the batch ran on)")
        book_dir = Path(trained_on[0])
    backend = backend or make_backend(engine)
    result = ScoreResult(str(as_of), backend.name, "")
    result.seconds["load"] = round(loaded, 2)  # the models (and their imports) once per process
    with daily_features.StateWrites() as writes:  # state files written beside the scoring
        _score_day(snapshot_dir, as_of, previous, earlier, models_dir, models, backend, book_dir,
                   result, writes, warning_days=warning_days, full=full, prune=prune,
                   spread_days=spread_days, handoff=handoff)  # fmt: skip
    return result


def _score_day(
    snapshot_dir: Path, as_of: date, previous: date | None, earlier: list[date],
    models_dir: Path, models: list[BookModel], backend: Backend, book_dir: Path,
    result: ScoreResult, writes: daily_features.StateWrites, *, warning_days: int, full: bool,
    prune: bool, spread_days: int, handoff: AccountHandoff | None = None,
) -> None:  # fmt: skip
    """``score_snapshot``'s work once the models are loaded: ``result`` filled in."""
    source = FeatureSource(backend, snapshot_dir, book_dir)
    started = time.perf_counter()

    day: pa.Table | None = None
    prev_at: np.ndarray | None = None
    if backend.name == "duckdb":  # plain SQL, the snapshot read once (daily_features)
        con: Any = backend.con.con  # type: ignore[attr-defined]
        day, item_source, prev_at = daily_features.day_rows_for_scoring(
            con, snapshot_dir, as_of, previous, warning_days, lean=True, writes=writes,
            handoff=handoff,
        )  # fmt: skip
        result.items = {"source": item_source, "accounts": day.num_rows}
        ids = day["account_id"]
        # the ids stay in Arrow; dates as datetime64 (Python date objects convert slowly)
        flags = day.select(FLAG_COLUMNS[1:]).to_pandas(date_as_object=False)
    else:
        flags = backend.con.execute(  # type: ignore[attr-defined]
            selection_expr(source, as_of, previous, warning_days).order_by("account_id")
        )
        ids = pa.chunked_array([pa.array(flags["account_id"].to_numpy(dtype=object), pa.string())])
    prev_scores, prev_rows = _previous_scores(snapshot_dir, previous)
    current = _current(prev_scores, models)  # current model versions only
    if not current.all():
        prev_scores = prev_scores.filter(pa.array(current))
        if prev_rows is not None:
            prev_rows = prev_rows[current]
    member = np.zeros(len(flags), dtype=bool)
    flags["days_to_next_due"] = (
        pd.to_datetime(flags["next_due_date"]) - pd.Timestamp(as_of)
    ).dt.days.astype("float64")
    for bm in models:
        member |= in_population(flags, bm.target)
    scored_on = prev_scores["score_as_of"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
    # each previous score's account among today's (one hash of today's ids serves the rule and
    # the carry-forward)
    back = _back(prev_scores, prev_rows, prev_at, ids)
    wanted = needs_fresh_score(
        flags, ids, prev_scores["account_id"], scored_on, as_of, warning_days, back=back,
        spread_days=spread_days,
    )  # fmt: skip
    wanted = wanted & member
    wanted = wanted | (member & full)
    fresh_arrow = ids.filter(pa.array(wanted))
    result.seconds["select"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    if day is not None:
        fresh_table = pa.table({"account_id": fresh_arrow})
        # the fresh rows in account-id order: raw_rows_at's rows, and so the scores'
        by_id = np.flatnonzero(wanted)[np.asarray(pc.sort_indices(fresh_arrow).to_numpy(),
                                                  np.int64)]  # fmt: skip
        promise_rows = _promise_rows(backend, source, as_of, fresh_table)
        raw = daily_features.raw_rows_at(  # by row position: the fresh rows of ``day``
            con, snapshot_dir, book_dir, source.snapshot_dates(as_of), as_of, previous, day,
            by_id, promise_rows, in_id_order=True,
        )  # fmt: skip
        result.seconds["features"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()  # "score": the finishing step, the models and reasons
        # dates as datetime64, not Python date objects: finish converts them 2x faster
        fresh_rows, feature_rows = score_table_and_rows(
            finish(raw.to_pandas(date_as_object=False), as_of), models, as_of
        )
        fresh_at = by_id[feature_rows]  # each score's day row
    else:
        with tempfile.TemporaryDirectory(prefix="overdue-score-") as tmp:
            fresh_ids = fresh_arrow.to_pylist()
            only = _ids_table(backend, fresh_ids, Path(tmp)) if fresh_ids else None
            if fresh_ids:
                fresh = _score_fresh(backend, source, as_of, only, models_dir, models)
            else:
                fresh = _empty_scores()
            fresh_rows = _recoded(_to_arrow(fresh), True)
        at_fresh = pc.index_in(fresh_rows["account_id"], value_set=fresh_arrow)
        assert at_fresh.null_count == 0, "a fresh score of an account not selected"
        fresh_at = np.flatnonzero(wanted)[np.asarray(at_fresh.to_numpy(zero_copy_only=False),
                                                     np.int64)]  # fmt: skip
    result.seconds["score"] = round(time.perf_counter() - started, 2)

    started = time.perf_counter()
    # unchanged accounts keep their status and bucket, hence their population
    found = back.is_valid().to_numpy(zero_copy_only=False)
    where = np.asarray(back.fill_null(0).to_numpy(zero_copy_only=False), np.int64)
    keep = found & (member & ~wanted)[where] if len(where) else found
    kept = np.flatnonzero(keep)
    # each score's account's position among today's rows (``fresh_at``), kept in the Arrow
    # copy for tomorrow: checked against the scores' own ids
    same = pc.equal(pc.take(ids, pa.array(fresh_at, pa.int64())), fresh_rows["account_id"])
    assert pc.all(same).as_py() is not False, "a fresh score on another account's row"
    out = _in_score_order(fresh_rows.append_column(ROW_COLUMN, pa.array(fresh_at, pa.int64())),
                          prev_scores.append_column(ROW_COLUMN, pa.array(where, pa.int64())),
                          kept)  # fmt: skip
    folder = snapshot_path(snapshot_dir, as_of) / SCORES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    # the Parquet file's strings (dictionary pages for ``LOW_CARDINALITY``) read back as plain
    # strings: no Arrow schema stored, so no reader sees the dictionary types of the copy
    pq.write_table(out.drop_columns([ROW_COLUMN]), folder / "part-0.parquet",
                   use_dictionary=list(LOW_CARDINALITY), store_schema=False)  # fmt: skip
    if day is not None:  # the daily path: tomorrow reads today's scores from the Arrow copy
        here = snapshot_path(snapshot_dir, as_of)
        copy = _recoded(out, True).combine_chunks().unify_dictionaries()
        daily_features._write_state(here, SCORES_COPY, copy,
                                    _scores_fingerprint(folder / "part-0.parquet"))  # fmt: skip
    if prune and day is not None and previous is not None:  # the next day reads today's state
        daily_features.prune_state(snapshot_dir, earlier, keep_from=previous)
    writes.wait()  # the day's event values, written beside the scoring
    result.seconds["write"] = round(time.perf_counter() - started, 2)
    carried_models = prev_scores["model"].take(pa.array(kept))
    for name in MODELS:
        result.fresh[name] = _count(fresh_rows["model"], name)
        result.carried[name] = _count(carried_models, name)
        result.population[name] = result.fresh[name] + result.carried[name]
    result.path = str(folder)


def _current(scores: pa.Table, models: list[BookModel]) -> np.ndarray:
    """Per score row: whether it comes from one of ``models`` at that model's version. From
    the dictionaries' few entries and the rows' indices when both columns are encoded in one
    chunk without nulls (the daily path), else by comparing the strings."""
    versions = {bm.name: bm.version for bm in models}
    model, version = scores["model"], scores["model_version"]
    if _one_encoded_chunk(model) and _one_encoded_chunk(version):
        m, v = model.chunk(0), version.chunk(0)
        pairs = np.array([[versions.get(name) == each for each in v.dictionary.to_pylist()]
                          for name in m.dictionary.to_pylist()], bool)  # fmt: skip
        if not pairs.size:
            return np.zeros(scores.num_rows, bool)
        return pairs[_codes(m), _codes(v)]
    current = pc.is_in(model, value_set=pa.array(list(versions), pa.string()))
    for name, wanted in versions.items():
        other = pc.and_(pc.equal(model, name), pc.not_equal(version, wanted))
        current = pc.and_(current, pc.invert(other))
    return np.asarray(current.to_numpy(), bool)


def _one_encoded_chunk(column: pa.ChunkedArray) -> bool:
    return (pa.types.is_dictionary(column.type) and column.num_chunks == 1
            and column.null_count == 0)  # fmt: skip


def _codes(chunk: pa.DictionaryArray) -> np.ndarray:
    return np.asarray(chunk.indices.to_numpy(), np.int64)


def _count(column: pa.ChunkedArray, value: str) -> int:
    """How many of ``column``'s values (plain or dictionary-encoded strings) are ``value``."""
    if _one_encoded_chunk(column):
        entries = column.chunk(0).dictionary.to_pylist()
        counts = np.bincount(_codes(column.chunk(0)), minlength=len(entries))
        return int(sum(int(c) for e, c in zip(entries, counts, strict=True) if e == value))
    found = pc.sum(pc.equal(column, value)).as_py()
    return int(found or 0)


def _promise_rows(
    backend: Backend, source: FeatureSource, as_of: date, fresh: pa.Table
) -> pa.Table | None:
    """The promise part (the Ibis definition, run on DuckDB) for the fresh accounts, or None
    when the book has no promises table (then no payments scan either)."""
    if not promises.present(source.book_dir):
        return None
    ibis_con: Any = backend.con  # type: ignore[attr-defined]
    only = ibis_con.create_table("_fresh_ids", fresh, temp=True, overwrite=True)
    expr = promises.promise_part(
        backend, source.book_dir, as_of, account_payments(source, as_of, only), only
    )
    assert expr is not None
    return (
        ibis_con.con.sql(ibis_con.compile(expr)).to_arrow_table().cast(expr.schema().to_pyarrow())
    )


def _score_fresh(
    backend: Backend, source: FeatureSource, as_of: date, only: ir.Table | None,
    models_dir: Path, models: list[BookModel],
) -> pd.DataFrame:  # fmt: skip
    if backend.name == "duckdb":
        con: Any = backend.con  # type: ignore[attr-defined]

        def run(expr: ir.Table) -> pa.Table:
            # Ibis's types (DuckDB's SUM of BIGINT is a 128-bit decimal in Arrow)
            table = con.con.sql(con.compile(expr)).to_arrow_table()
            return table.cast(expr.schema().to_pyarrow())

        raw = raw_features_in_parts(run, source, as_of, only)
        return score_rows(finish(raw, as_of), models, as_of)
    return _score_on_spark(backend, feature_expr(source, as_of, only), as_of, models_dir)


def _score_on_spark(
    backend: Backend, expr: ir.Table, as_of: date, models_dir: Path
) -> pd.DataFrame:
    from pyspark.sql.pandas.types import from_arrow_schema

    session: Any = backend.session  # type: ignore[attr-defined]
    df = session.sql(backend.con.compile(expr))  # type: ignore[attr-defined]
    model_path = str(models_dir)

    def scorer(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        models = load_book_models(Path(model_path))
        for batch in batches:
            if batch.num_rows:
                feats = finish(batch.to_pandas(), as_of)
                table = _recoded(score_table(feats, models, as_of), False)
                yield from table.to_batches()

    out = df.mapInArrow(scorer, from_arrow_schema(SCORE_SCHEMA))
    table = out.toArrow()
    frame = table.cast(SCORE_SCHEMA).to_pandas() if table.num_rows else _empty_scores()
    return frame.sort_values(["model", "account_id"], kind="stable").reset_index(drop=True)


def read_scores(snapshot_dir: Path, as_of: date) -> pd.DataFrame:
    folder = snapshot_path(snapshot_dir, as_of) / SCORES_DIR
    if not folder.is_dir():
        raise BadInput(f"{folder}: no scores (run overdue eod --models or score_snapshot)")
    return pq.read_table(folder, schema=SCORE_SCHEMA).to_pandas()

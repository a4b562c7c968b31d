"""LightGBM trees as flat arrays, evaluated by a compiled (numba) loop: fast batch scoring.

LightGBM's own ``predict`` walks one row at a time through a general-purpose path; for scoring
whole books this loop is several times faster. It follows LightGBM's decision rules exactly
(``tree.h``: NaN → 0 unless the node's missing type is NaN; missing/zero values follow the
node's default direction; categorical splits send NaN and negative codes right), and a test
proves it gives the booster's raw scores on data with NaN, codes and categories.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
MISSING_TYPES = {"None": MISSING_NONE, "Zero": MISSING_ZERO, "NaN": MISSING_NAN}
ZERO_THRESHOLD = 1e-35
MAX_NODES = 50_000_000
MAX_DEPTH = 10_000


@dataclass(frozen=True)
class FlatForest:
    roots: np.ndarray  # int64, one per tree
    feature: np.ndarray  # int64, -1 at a leaf
    threshold: np.ndarray  # float64
    left: np.ndarray  # int64
    right: np.ndarray  # int64
    default_left: np.ndarray  # bool
    missing_type: np.ndarray  # int8
    is_categorical: np.ndarray  # bool
    cat_start: np.ndarray  # int64 into cat_values
    cat_len: np.ndarray  # int64
    cat_values: np.ndarray  # int64: the categories that go left
    value: np.ndarray  # float64: a leaf's value; an inner node's expected value (internal_value)
    depth: np.ndarray  # int64, levels of each tree (0 = a single leaf)

    def packed(self) -> tuple[np.ndarray, ...]:
        """Fewer, denser arrays for the loop: feature (int32), threshold with leaf values in
        it, children (n × 2), flags (bit 0 default left, bits 1-2 missing type, bit 3
        categorical), and the category lists."""
        cached = self.__dict__.get("_packed")
        if cached is None:
            is_leaf = self.feature < 0
            threshold = np.where(is_leaf, self.value, self.threshold)
            children = np.ascontiguousarray(np.c_[self.left, self.right].astype(np.int32))
            # bit 4: take the general path (categorical or zero-as-missing); bit 5: where NaN
            # goes on the fast path (type NaN: the default side; type None: NaN counts as 0).
            slow = self.is_categorical | (self.missing_type == MISSING_ZERO)
            nan_left = np.where(
                self.missing_type == MISSING_NAN, self.default_left, self.threshold >= 0.0
            )
            flags = (self.default_left.astype(np.uint8) | (self.missing_type.astype(np.uint8) << 1)
                     | (self.is_categorical.astype(np.uint8) << 3) | (slow.astype(np.uint8) << 4)
                     | (nan_left.astype(np.uint8) << 5))  # fmt: skip
            cached = (self.feature.astype(np.int32), threshold, children, flags,
                      self.cat_start.astype(np.int32), self.cat_len.astype(np.int32),
                      self.cat_values)  # fmt: skip
            object.__setattr__(self, "_packed", cached)
        return cached


class _Builder:
    def __init__(self) -> None:
        self.feature: list[int] = []
        self.threshold: list[float] = []
        self.left: list[int] = []
        self.right: list[int] = []
        self.default_left: list[bool] = []
        self.missing_type: list[int] = []
        self.is_categorical: list[bool] = []
        self.cat_start: list[int] = []
        self.cat_len: list[int] = []
        self.cat_values: list[int] = []
        self.value: list[float] = []
        self.depths: list[int] = []

    def _new(self) -> int:
        assert len(self.feature) < MAX_NODES
        self.feature.append(-1)
        self.threshold.append(0.0)
        self.left.append(-1)
        self.right.append(-1)
        self.default_left.append(False)
        self.missing_type.append(MISSING_NONE)
        self.is_categorical.append(False)
        self.cat_start.append(0)
        self.cat_len.append(0)
        self.value.append(0.0)
        return len(self.feature) - 1

    def add(self, root: dict[str, Any]) -> int:
        """Add one tree (iteratively: no recursion limit); return the root's node index."""
        root_index = self._new()
        stack = [(root, root_index, 0)]
        depth = 0
        for _ in range(MAX_NODES):
            if not stack:
                break
            node, index, level = stack.pop()
            depth = max(depth, level)
            if "split_feature" not in node:
                self.value[index] = float(node["leaf_value"])
                continue
            self.feature[index] = int(node["split_feature"])
            self.value[index] = float(node.get("internal_value", 0.0))
            self.default_left[index] = bool(node["default_left"])
            self.missing_type[index] = MISSING_TYPES[node["missing_type"]]
            if node["decision_type"] == "==":
                cats = [int(c) for c in str(node["threshold"]).split("||")]
                self.is_categorical[index] = True
                self.cat_start[index] = len(self.cat_values)
                self.cat_len[index] = len(cats)
                self.cat_values.extend(cats)
            else:
                assert node["decision_type"] == "<=", node["decision_type"]
                self.threshold[index] = float(node["threshold"])
            left, right = self._new(), self._new()
            self.left[index], self.right[index] = left, right
            stack.append((node["left_child"], left, level + 1))
            stack.append((node["right_child"], right, level + 1))
        assert not stack, "tree too large"
        self.depths.append(depth)
        return root_index

    def forest(self, roots: list[int]) -> FlatForest:
        return FlatForest(
            roots=np.asarray(roots, dtype=np.int64),
            feature=np.asarray(self.feature, dtype=np.int64),
            threshold=np.asarray(self.threshold, dtype=np.float64),
            left=np.asarray(self.left, dtype=np.int64),
            right=np.asarray(self.right, dtype=np.int64),
            default_left=np.asarray(self.default_left, dtype=np.bool_),
            missing_type=np.asarray(self.missing_type, dtype=np.int8),
            is_categorical=np.asarray(self.is_categorical, dtype=np.bool_),
            cat_start=np.asarray(self.cat_start, dtype=np.int64),
            cat_len=np.asarray(self.cat_len, dtype=np.int64),
            cat_values=np.asarray(self.cat_values or [0], dtype=np.int64),
            value=np.asarray(self.value, dtype=np.float64),
            depth=np.asarray(self.depths, dtype=np.int64),
        )


def from_booster(booster: Any) -> FlatForest:
    dump = booster.dump_model()
    builder = _Builder()
    roots = [builder.add(tree["tree_structure"]) for tree in dump["tree_info"]]
    return builder.forest(roots)


FOREST_FILE = "gbm_forest.npz"  # beside the model file: its forest, keyed by its SHA-256


def cached_forest(model_file: Path) -> FlatForest:
    """The forest of the LightGBM model file ``model_file`` from its cache beside it
    (``FOREST_FILE``: the arrays and the model file's SHA-256), or built from the file
    (LightGBM imported: about a second with scikit-learn and SciPy, which the daily scoring
    then does not pay) and cached when the folder is writable."""
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    cache = model_file.with_name(FOREST_FILE)
    try:
        with np.load(cache, allow_pickle=False) as data:
            if str(data["sha256"]) == digest:
                return FlatForest(**{f.name: data[f.name] for f in fields(FlatForest)})
    except (OSError, KeyError, ValueError):
        pass  # absent, unreadable or of another format: built again
    import lightgbm as lgb

    forest = from_booster(lgb.Booster(model_file=str(model_file)))
    tmp = cache.with_name(f".{FOREST_FILE}.tmp-{os.getpid()}.npz")
    try:
        arrays = {f.name: getattr(forest, f.name) for f in fields(FlatForest)}
        np.savez(tmp, sha256=np.array(digest), **arrays)
        os.replace(tmp, cache)
    except OSError:  # a read-only model folder: built on each load
        tmp.unlink(missing_ok=True)
    return forest


def as_matrix(x: pd.DataFrame) -> np.ndarray:
    """The model frame as float64 rows, categoricals as their codes (missing → NaN): what
    LightGBM itself feeds its trees."""
    out = np.empty((len(x), x.shape[1]), dtype=np.float64)
    for j, name in enumerate(x.columns):
        column = x[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            out[:, j] = codes
        else:
            out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


BLOCK_ROWS = 128


@numba.njit(cache=True, inline="always")
def _goes_left(
    fval: float, flag: int, node: int, threshold: np.ndarray, cat_start: np.ndarray,
    cat_len: np.ndarray, cat_values: np.ndarray,
) -> bool:  # fmt: skip
    """LightGBM's decision at ``node`` for value ``fval`` (bits of ``flag`` as ``packed`` set)."""
    if (flag & 16) == 0:  # numerical, missing type None or NaN: the common case
        # NaN goes where ``packed`` decided (bit 5); a number is compared.
        return (flag & 32) != 0 if np.isnan(fval) else fval <= threshold[node]
    if flag & 8:  # categorical
        if not np.isnan(fval) and fval >= 0:
            code = int(fval)
            for k in range(cat_start[node], cat_start[node] + cat_len[node]):
                if cat_values[k] == code:
                    return True
        return False
    kind = (flag >> 1) & 3
    if np.isnan(fval) and kind != 2:
        fval = 0.0
    if (kind == 1 and abs(fval) <= 1e-35) or (kind == 2 and np.isnan(fval)):
        return (flag & 1) == 1
    return fval <= threshold[node]


@numba.njit(parallel=True, cache=True)
def _raw_scores(
    x: np.ndarray, roots: np.ndarray, depth: np.ndarray, feature: np.ndarray,
    threshold: np.ndarray, children: np.ndarray, flags: np.ndarray, cat_start: np.ndarray,
    cat_len: np.ndarray, cat_values: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Trees outer, a block of rows inner, one tree level at a time for the whole block: the
    block's walks are independent, so the processor overlaps them."""
    n_rows = x.shape[0]
    out = np.zeros(n_rows)
    n_blocks = (n_rows + BLOCK_ROWS - 1) // BLOCK_ROWS
    for b in numba.prange(n_blocks):
        start = b * BLOCK_ROWS
        size = min(BLOCK_ROWS, n_rows - start)
        total = np.zeros(size)
        nodes = np.empty(size, dtype=np.int64)
        for t in range(roots.shape[0]):
            nodes[:] = roots[t]
            for _level in range(depth[t]):
                for r in range(size):
                    node = nodes[r]
                    f_index = feature[node]
                    if f_index < 0:
                        continue
                    fval = x[start + r, f_index]
                    go_left = _goes_left(
                        fval, flags[node], node, threshold, cat_start, cat_len, cat_values
                    )
                    nodes[r] = children[node, 0] if go_left else children[node, 1]
            for r in range(size):
                total[r] += threshold[nodes[r]]  # a leaf keeps its value in ``threshold``
        out[start : start + size] = total
    return out


def raw_scores(forest: FlatForest, x: np.ndarray) -> np.ndarray:
    """Sum of leaf values per row: LightGBM's ``predict(raw_score=True)``."""
    assert x.ndim == 2 and x.dtype == np.float64
    assert int(forest.depth.max(initial=0)) <= MAX_DEPTH
    return _raw_scores(x, forest.roots, forest.depth, *forest.packed())


def path_contributions(forest: FlatForest, x: np.ndarray) -> np.ndarray:
    """Fast per-feature contributions (log-odds), rows × features: each split's change of the
    expected value credited to its feature. Not SHAP (which averages over feature orders), but
    exact in sum: ``contributions.sum(1) + bias(forest) == raw_scores(forest, x)``."""
    assert x.ndim == 2 and x.dtype == np.float64
    contributions, _raw = path_contributions_and_raw(forest, x)  # one compiled walk
    return contributions


@numba.njit(cache=True, inline="always")
def _attribute_row(
    x: np.ndarray, r: int, roots: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
    children: np.ndarray, flags: np.ndarray, cat_start: np.ndarray, cat_len: np.ndarray,
    cat_values: np.ndarray, value: np.ndarray, into: np.ndarray,
) -> float:  # fmt: skip
    """Row ``r``'s walk of every tree: each split's (child value − node value) added to
    ``into[feature]``, tree by tree; returns the leaf values added from 0.0 (the raw score, the
    same additions in the same order as ``_raw_scores``)."""
    total = 0.0
    for t in range(roots.shape[0]):
        node = roots[t]
        for _step in range(MAX_DEPTH):
            f_index = feature[node]
            if f_index < 0:
                break
            go_left = _goes_left(
                x[r, f_index], flags[node], node, threshold, cat_start, cat_len, cat_values
            )
            child = children[node, 0] if go_left else children[node, 1]
            into[f_index] += value[child] - value[node]
            node = child
        total += threshold[node]  # a leaf keeps its value in the packed ``threshold``
    return total


@numba.njit(parallel=True, cache=True)
def _path_contributions_and_raw(
    x: np.ndarray, roots: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
    children: np.ndarray, flags: np.ndarray, cat_start: np.ndarray, cat_len: np.ndarray,
    cat_values: np.ndarray, value: np.ndarray, n_features: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Per row and feature: the sum over trees of (child value − node value) at each split on
    that feature along the row's path (Saabas path attribution; row sums + the roots' values
    equal the raw score), and, from the same walks, the raw score (``_attribute_row``)."""
    n_rows = x.shape[0]
    out = np.zeros((n_rows, n_features))
    raw = np.zeros(n_rows)
    for r in numba.prange(n_rows):
        raw[r] = _attribute_row(x, r, roots, feature, threshold, children, flags, cat_start,
                                cat_len, cat_values, value, out[r])  # fmt: skip
    return out, raw


def path_contributions_and_raw(forest: FlatForest, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``path_contributions``, ``raw_scores``) in one walk of every tree per row (the daily
    run needs both); the raw scores are bit-identical to ``raw_scores``'s."""
    assert x.ndim == 2 and x.dtype == np.float64
    assert int(forest.depth.max(initial=0)) <= MAX_DEPTH
    feature, threshold, children, flags, cat_start, cat_len, cat_values = forest.packed()
    return _path_contributions_and_raw(
        x, forest.roots, feature, threshold, children, flags, cat_start, cat_len, cat_values,
        forest.value, x.shape[1],
    )  # fmt: skip


@numba.njit(cache=True, inline="always")
def largest_first(values: np.ndarray, k: int, out: np.ndarray) -> None:
    """``out[:k]``: the positions of the ``k`` largest of ``values`` (k ≤ their number),
    largest first, the first of equal values first (a stable descending sort's order)."""
    for q in range(k):
        best, best_value = -1, 0.0
        for j in range(values.shape[0]):
            taken = False
            for p in range(q):
                if out[p] == j:
                    taken = True
                    break
            if not taken and (best < 0 or values[j] > best_value):
                best, best_value = j, values[j]
        out[q] = best


REASON_BLOCK_ROWS = 256  # rows per task of the reasons' walk (one contribution row reused)


@numba.njit(parallel=True, cache=True)
def _path_reasons_and_raw(
    x: np.ndarray, roots: np.ndarray, feature: np.ndarray, threshold: np.ndarray,
    children: np.ndarray, flags: np.ndarray, cat_start: np.ndarray, cat_len: np.ndarray,
    cat_values: np.ndarray, value: np.ndarray, n_features: int, k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """``_path_contributions_and_raw``'s walk with each row's contributions added up in one
    reused row (the same additions in the same order) and reduced at once to the columns of
    its ``k`` largest positive ones (largest first, the first of equals first; -1 where fewer),
    as ``reasons._top_k`` picks them; rows with a non-finite contribution are flagged, not
    picked (``_top_k`` sorts those)."""
    n_rows = x.shape[0]
    order = np.full((n_rows, k), -1, dtype=np.int64)
    raw = np.zeros(n_rows)
    odd = np.zeros(n_rows, dtype=np.bool_)
    picks = min(k, n_features)
    for b in numba.prange((n_rows + REASON_BLOCK_ROWS - 1) // REASON_BLOCK_ROWS):
        row = np.zeros(n_features)
        for r in range(b * REASON_BLOCK_ROWS, min(n_rows, (b + 1) * REASON_BLOCK_ROWS)):
            row[:] = 0.0
            raw[r] = _attribute_row(x, r, roots, feature, threshold, children, flags, cat_start,
                                    cat_len, cat_values, value, row)  # fmt: skip
            if not np.isfinite(row).all():
                odd[r] = True
                continue
            largest_first(row, picks, order[r])
            for q in range(picks):
                if row[order[r, q]] <= 0.0:
                    order[r, q] = -1
    return order, raw, odd


def path_reasons_and_raw(
    forest: FlatForest, x: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the columns of each row's ``k`` largest positive path contributions, as
    ``reasons._top_k(path_contributions(forest, x), k)[0]``; the raw scores, bit-identical
    to ``raw_scores``'s; the rows whose contributions are not all finite, left -1 for the
    caller to sort) in one walk, without the rows × features matrix of contributions."""
    assert x.ndim == 2 and x.dtype == np.float64 and k > 0
    assert int(forest.depth.max(initial=0)) <= MAX_DEPTH
    feature, threshold, children, flags, cat_start, cat_len, cat_values = forest.packed()
    return _path_reasons_and_raw(
        x, forest.roots, feature, threshold, children, flags, cat_start, cat_len, cat_values,
        forest.value, x.shape[1], k,
    )  # fmt: skip


def bias(forest: FlatForest) -> float:
    """The sum of the trees' root values (every row's starting point)."""
    return float(forest.value[forest.roots].sum())

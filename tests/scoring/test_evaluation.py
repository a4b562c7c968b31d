"""Measures against scikit-learn and against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score, roc_curve

from overdue.scoring import evaluation as ev


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=60).filter(
        lambda rows: len({r[0] for r in rows}) == 2
    )
)
def test_auc_and_ks_agree_with_scikit_learn_even_with_ties(rows: list[tuple[int, int]]) -> None:
    y = np.array([r[0] for r in rows])
    risk = np.array([r[1] for r in rows], dtype=float)  # few distinct values: many ties
    assert ev.auc(y, risk) == pytest.approx(roc_auc_score(y, risk), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, risk)
    assert ev.ks(y, risk) == pytest.approx(np.max(np.abs(tpr - fpr)), abs=1e-12)
    assert ev.gini(y, risk) == pytest.approx(2 * roc_auc_score(y, risk) - 1, abs=1e-12)


def test_auc_by_hand() -> None:
    # bads at 0.9 and 0.4, goods at 0.8, 0.4, 0.1: pairs (bad > good) = 0.9 beats 3, 0.4 beats 0.1
    # and ties 0.4 (1/2): (3 + 1 + 0.5) / 6 = 0.75
    y = np.array([1, 1, 0, 0, 0])
    risk = np.array([0.9, 0.4, 0.8, 0.4, 0.1])
    assert ev.auc(y, risk) == pytest.approx(0.75)


def test_ks_by_hand() -> None:
    # Riskiest first: 0.9 (bad) -> F_bad 1/2, F_good 0; 0.8 (good) -> 1/2, 1/3;
    # 0.4 (bad+good tie) -> 1, 2/3; 0.1 -> 1, 1. Max gap 1/2 at 0.9 (not 2/3: the tie is one step).
    y = np.array([1, 1, 0, 0, 0])
    risk = np.array([0.9, 0.4, 0.8, 0.4, 0.1])
    assert ev.ks(y, risk) == pytest.approx(0.5)
    # Perfect separation: KS 1.
    assert ev.ks(np.array([0, 0, 1, 1]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(1.0)


def test_psi_by_hand() -> None:
    # expected shares 0.5, 0.3, 0.2; actual 0.4, 0.4, 0.2
    expected = np.array([50, 30, 20])
    actual = np.array([40, 40, 20])
    by_hand = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3) + 0.0
    assert ev.psi_from_counts(expected, actual) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.05108, abs=1e-5)
    assert ev.psi_from_counts(expected, expected) == 0.0


def test_psi_empty_bin_uses_the_floor() -> None:
    value = ev.psi_from_counts(np.array([10, 0]), np.array([5, 5]))
    by_hand = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - ev.PSI_FLOOR) * math.log(
        0.5 / ev.PSI_FLOOR
    )
    assert value == pytest.approx(by_hand)


@pytest.mark.parametrize(
    ("value", "status"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "watch"), (0.25, "watch"), (0.2501, "shifted")],
)
def test_alert_levels(value: float, status: str) -> None:
    assert ev.stability_status(value) == status


def test_psi_of_a_shifted_population() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=20000)
    assert ev.psi(reference, rng.normal(size=20000)) < 0.01
    assert ev.stability_status(ev.psi(reference, rng.normal(loc=1.0, size=20000))) == "shifted"


def test_gains_table_by_hand() -> None:
    # 10 rows, one per decile; the riskiest 3 rows hold both bads.
    risk = np.arange(10, dtype=float)[::-1]
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    gains = ev.gains_table(y, risk)
    assert gains["count"].tolist() == [1] * 10
    assert gains["cum_bad_capture"].tolist()[:3] == [0.5, 0.5, 1.0]
    assert gains["lift"].iloc[0] == pytest.approx(1.0 / 0.2)
    assert gains["cum_lift"].iloc[-1] == pytest.approx(1.0)


def test_ties_never_straddle_deciles() -> None:
    risk = np.array([1.0] * 15 + [0.0] * 5)
    gains = ev.gains_table(np.array([1, 0] * 10), risk)
    assert gains["count"].tolist() == [15, 5]


def test_calibration_of_a_calibrated_model() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.6, size=50000)
    y = (rng.random(50000) < p).astype(int)
    table = ev.calibration_table(y, p)
    assert len(table) == 10
    assert np.allclose(table["predicted"], table["observed"], atol=0.02)
    assert table["count"].sum() == 50000


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30), st.integers(1, 12), st.integers(1, 5), st.integers(0, 10**6))
def test_top_k_picks_what_a_stable_sort_picks(n: int, m: int, k: int, seed: int) -> None:
    """The reasons' top k (argmax passes) equal the first k of a stable descending sort, ties
    (few distinct values) and all-negative rows included."""
    from overdue.scoring.reasons import _top_k

    rng = np.random.default_rng(seed)
    badness = rng.integers(-3, 4, size=(n, m)).astype(float) / 2
    if seed % 3 == 0:  # infinite values take the sort's path
        badness[rng.random((n, m)) < 0.2] = -np.inf
    order, values = _top_k(badness, k)
    k_eff = min(k, m)
    expected = np.argsort(-badness, axis=1, kind="stable")[:, :k_eff]
    kept = np.take_along_axis(badness, expected, axis=1)
    expected = np.where(kept > 0, expected, -1)
    assert np.array_equal(order[:, :k_eff], expected)
    assert (order[:, k_eff:] == -1).all()
    assert np.array_equal(values[:, :k_eff], np.where(expected >= 0, kept, 0.0))

"""Roll-rate matrices: hand-made grids, the state mapping, the real panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from twin_support import real_panel

from overdue.twin import calibration as cal


def test_transitions_of_a_hand_made_grid() -> None:
    codes = np.array(
        [
            ["", "0", "0", "1", "2"],  # opens in month 1, then rolls
            ["0", "1", "0", "C", "C"],  # cures, pays off
            ["X", "0", "0", "0", ""],  # a gap at the end is no pair
        ]
    )
    matrix = cal.transitions(codes)
    assert matrix.counts.sum() == 3 + 4 + 3
    assert matrix.known_rate("0", ["1"]) == 2 / 6
    assert matrix.known_rate("1", ["0"]) == 1 / 2
    assert matrix.known_rate("1", ["2"]) == 1 / 2
    assert matrix.known_rate("0", cal.CURED) == 4 / 6
    assert matrix.rate("5", ["5"]) is None


def test_state_codes() -> None:
    assert cal.code_for(0, True, True) == "0"
    assert cal.code_for(29, True, False) == "0"
    assert cal.code_for(30, True, False) == "1"
    assert cal.code_for(200, True, True) == "5"
    assert cal.code_for(0, False, True) == "X"
    assert cal.code_for(0, False, False) == "C"
    grid = cal.generator_codes(
        np.array([[-1, 0, 45], [0, 0, 151]]),
        np.array([[False, False, True], [True, False, True]]),
        np.array([True, False]),
    )
    assert grid.tolist() == [["", "X", "1"], ["0", "C", "5"]]


def test_real_panel_roll_rates() -> None:
    path = real_panel()
    matrix = cal.real_matrix(path)
    frame = pd.read_csv(path, dtype={"STATUS": str}).sort_values(["ID", "MONTHS_BALANCE"])
    following = frame.groupby("ID").shift(-1)
    pairs = following["MONTHS_BALANCE"] == frame["MONTHS_BALANCE"] + 1
    assert matrix.counts.sum() == int(pairs.sum())
    ones = (frame["STATUS"] == "0") & pairs & (following["STATUS"] == "1")
    assert matrix.counts[0, 1] == int(ones.sum())
    # The figures docs/twin.md quotes (1.9 % 0→1, 5.2 % 1→2, 30.3 % 2→3).
    assert round(100 * matrix.known_rate("0", ["1"]), 1) == 1.9
    assert round(100 * matrix.known_rate("1", ["2"]), 1) == 5.2
    assert round(100 * matrix.known_rate("2", ["3"]), 1) == 30.3
    report = cal.markdown_report({"real": matrix}, "overdue twin calibrate")
    assert "`overdue twin calibrate`" in report and "| 0–29 → 30–59 (0→1) | 1.9 % |" in report


def test_twin_rates_are_of_the_real_order(small_book: Path) -> None:
    from twin_support import SMALL

    from overdue.twin.generate import month_end_panel

    real = cal.real_matrix(real_panel())
    dpd, owes, product, _ = month_end_panel(SMALL)
    twin = cal.transitions(cal.generator_codes(dpd, owes, product == 0))
    for source, targets in (("0", ["1"]), ("1", ["2"]), ("2", ["3"]), ("1", cal.CURED)):
        ratio = twin.known_rate(source, targets) / real.known_rate(source, targets)
        assert 0.2 < ratio < 5, (source, targets, ratio)

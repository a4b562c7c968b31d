"""Strategies in parallel processes write exactly what one process writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from overdue.strategy.simulate import SimConfig, simulate


def test_two_processes_give_identical_outputs(tmp_path: Path) -> None:
    outs = {}
    for processes in (1, 2):
        out = tmp_path / f"p{processes}"
        simulate(
            SimConfig(
                accounts=400,
                days=4,
                strategy="default",
                vs="aggressive",
                profile="us",
                seed=7,
                out=out,
                processes=processes,
            )
        )
        outs[processes] = out
    for name in ("summary.json", "contacts.csv", "flags.csv", "customers.csv"):
        assert (outs[1] / name).read_bytes() == (outs[2] / name).read_bytes(), name
    for label in ("strategy", "vs"):
        for name in ("customers", "payments", "decisions", "outcomes"):
            one = outs[1] / "logs" / label / f"{name}.parquet"
            assert one.read_bytes() == (outs[2] / "logs" / label / f"{name}.parquet").read_bytes()


def test_processes_are_bounded(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="processes"):
        SimConfig(accounts=100, days=1, strategy="default", profile="cn", seed=1, out=tmp_path,
                  processes=3)  # fmt: skip

"""``overdue demo`` end to end on a small book: illustrative states, batch, report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_small_demo_writes_states_snapshots_and_report(tmp_path: Path) -> None:
    env = {**os.environ, "OVERDUE_NO_SERVE": "1", "COLUMNS": "200"}
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "overdue", "demo", "--out", str(out), "--accounts", "300", "--days", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    states = json.loads((out / "illustrative_states.json").read_text(encoding="utf-8"))
    assert {s["status"] for s in states.values()} >= {"current", "overdue", "settled", "charged_off"}
    assert "D13" in result.stdout and "charged_off" in result.stdout
    snapshots = sorted(p.name for p in (out / "snapshots").iterdir() if p.name.startswith("as_of="))
    assert snapshots[-3:] == ["as_of=2024-12-29", "as_of=2024-12-30", "as_of=2024-12-31"]
    assert len(snapshots) == 11 + 3  # month ends before the window, then the window's days
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Overdue monitoring report" in page and "<script src=\"http" not in page
    assert str(out / "report.html") in result.stdout.replace("\n", "")

"""Shared values of the twin tests: the small book's spec and the real panel (a module with a
unique name, so that no other folder's conftest can shadow it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from overdue.twin.generate import TwinSpec

REPO = Path(__file__).resolve().parents[2]
CREDIT_RECORD = REPO.parent / "shared" / "data" / "credit_record.zip"
SMALL = TwinSpec(accounts=6000, months=12, seed=20240101, chunk_size=2500)


def real_panel() -> Path:
    """The real panel, or a skip (a failure in CI, where the data must be there)."""
    if not CREDIT_RECORD.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CREDIT_RECORD} is missing (CI=true: the real data must be present)")
        pytest.skip(f"{CREDIT_RECORD} not found: real-data calibration test skipped")
    return CREDIT_RECORD

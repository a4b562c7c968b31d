"""Small twin books shared by the twin tests (generated once per session, a second or two each)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from overdue.twin.generate import TwinSpec, generate_book

sys.path.insert(0, str(Path(__file__).parent))

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


@pytest.fixture(scope="session")
def small_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin") / "book"
    generate_book(SMALL, out)
    return out

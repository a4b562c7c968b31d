"""Small twin books shared by the twin tests (generated once per session, a second or two each)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from overdue.twin.generate import generate_book

sys.path.insert(0, str(Path(__file__).parent))

from twin_support import SMALL


@pytest.fixture(scope="session")
def small_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("twin") / "book"
    generate_book(SMALL, out)
    return out

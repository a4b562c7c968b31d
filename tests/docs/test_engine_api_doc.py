"""docs/engine-api.md is a doctest: its runnable example must run and print what it shows."""

from __future__ import annotations

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "engine-api.md"


def test_engine_api_page_runs_as_written() -> None:
    result = doctest.testfile(
        str(DOC),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
    )
    assert result.attempted >= 8, "the page lost its runnable example"
    assert result.failed == 0

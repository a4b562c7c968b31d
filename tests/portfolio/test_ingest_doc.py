"""docs/data-contract.md agrees with the contract module, and its example rows are valid."""

from __future__ import annotations

import re
from pathlib import Path

from overdue.portfolio import book_layout
from overdue.portfolio.contract import TABLES
from overdue.portfolio.ingest import ingest

DOC = Path(__file__).parents[2] / "docs" / "data-contract.md"


def _sections() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^### `(\w+)`.*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_table_and_column_is_documented() -> None:
    sections = _sections()
    assert set(TABLES) <= set(sections)
    for name, spec in TABLES.items():
        for col in spec.columns:
            assert f"| `{col.name}` |" in sections[name], f"{name}.{col.name} not documented"


def test_documented_example_rows_ingest_without_rejection(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name, body in _sections().items():
        if name not in TABLES:
            continue
        match = re.search(r"```csv\n(.*?)```", body, flags=re.DOTALL)
        assert match, f"{name}: no CSV example"
        (src / f"{name}.csv").write_text(match.group(1), encoding="utf-8")
    report = ingest(src, tmp_path / "book")
    assert report.exit_code == 0
    for name, table in report.tables.items():
        assert table.rows_read > 0 and table.accepted == table.rows_read, name
    assert book_layout.read_manifest(tmp_path / "book")["tables"]["reversals"] == 1

"""Snapshot format 3: the account files carry the item summary and no nested transitions; a
format 2 snapshot (the day before an upgrade) is still resumed from, giving the same snapshot
as a chain of format 3 days; a snapshot of an unknown format is refused with a message that
says to rebuild."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from book_factory import START, random_book, write_book

from overdue.portfolio.eod import (
    SNAPSHOT_FORMAT,
    EodError,
    read_snapshot,
    run_eod,
    snapshot_files,
    snapshot_format,
    snapshot_path,
)
from overdue.portfolio.item_summary import SUMMARY_NAMES
from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA, TRANSITION_TYPE


def _as_format_2(snapshot_dir: Path, day) -> None:
    """Rewrite a snapshot's account files as format 2 wrote them: no summary, a nested
    ``transitions`` column (empty lists here: no reader of format 2 files uses it), and its
    manifest's format."""
    for file in snapshot_files(snapshot_dir, day):
        table = pq.read_table(file, partitioning=None).drop_columns(list(SUMMARY_NAMES))
        lists = pa.array([[]] * table.num_rows, pa.list_(TRANSITION_TYPE))
        pq.write_table(table.append_column("transitions", lists), file)
    manifest = snapshot_path(snapshot_dir, day) / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "format": "overdue-snapshot/2"}))


def test_account_files_have_the_summary_and_no_lists(tmp_path: Path) -> None:
    data_dir = write_book(random_book(3, accounts=15), tmp_path / "book")
    day = START + timedelta(days=100)
    run_eod(data_dir, day, tmp_path / "snaps")
    schema = pq.read_schema(snapshot_files(tmp_path / "snaps", day)[0])
    assert schema.names == ACCOUNT_STATE_SCHEMA.names
    assert snapshot_format(tmp_path / "snaps", day) == SNAPSHOT_FORMAT == "overdue-snapshot/3"


def test_a_format_2_previous_snapshot_is_resumed(tmp_path: Path) -> None:
    rows = random_book(17, accounts=30)
    data_dir = write_book(rows, tmp_path / "book")
    day0 = START + timedelta(days=110)
    day1, day2 = day0 + timedelta(days=1), day0 + timedelta(days=2)
    old, new = tmp_path / "old", tmp_path / "new"
    for snaps in (old, new):
        run_eod(data_dir, day0, snaps)
    _as_format_2(old, day0)
    assert read_snapshot(old, day0).drop_columns(["transitions"]).equals(
        read_snapshot(new, day0).drop_columns(["transitions"])
    ), "format 2 is still read"
    for day in (day1, day2):
        a, b = run_eod(data_dir, day, old), run_eod(data_dir, day, new)
        assert a.mode == b.mode == "incremental" and a.replayed == b.replayed
        assert read_snapshot(old, day).equals(read_snapshot(new, day))
        files = (snapshot_files(old, day), snapshot_files(new, day))
        assert pq.read_table(files[0], partitioning=None).equals(
            pq.read_table(files[1], partitioning=None)
        )


def test_an_unknown_format_is_refused_with_a_rebuild_hint(tmp_path: Path) -> None:
    data_dir = write_book(random_book(4, accounts=10), tmp_path / "book")
    day = START + timedelta(days=90)
    run_eod(data_dir, day, tmp_path / "snaps")
    manifest = snapshot_path(tmp_path / "snaps", day) / "manifest.json"
    manifest.write_text(json.dumps({"format": "overdue-snapshot/1"}))
    with pytest.raises(EodError, match="--rebuild"):
        run_eod(data_dir, day + timedelta(days=1), tmp_path / "snaps")
    rebuilt = run_eod(data_dir, day + timedelta(days=1), tmp_path / "snaps", rebuild=True)
    assert rebuilt.mode == "rebuild"

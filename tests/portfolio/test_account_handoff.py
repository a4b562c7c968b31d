"""The account rows a batch hands to a reader in its process equal the files it wrote, and are
refused once the files are not those any more (rewritten, missing, or too many rows kept)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from book_factory import START, random_book, write_book

from overdue.portfolio.account_handoff import AccountHandoff
from overdue.portfolio.eod import run_eod, snapshot_files
from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA

SOME = pa.schema([ACCOUNT_STATE_SCHEMA.field(c) for c in ("account_id", "status", "dpd")])


def _read(files: list[Path], schema: pa.Schema) -> pa.Table:
    parts = [pq.read_table(f, columns=schema.names).cast(schema) for f in files]
    return pa.concat_tables(parts)


def test_handed_rows_equal_the_files_day_after_day(tmp_path: Path) -> None:
    data_dir = write_book(random_book(11, accounts=40), tmp_path / "book")
    day = START + timedelta(days=95)
    for k in range(3):  # a rebuild, then two incremental days
        handoff = AccountHandoff()
        run_eod(data_dir, day + timedelta(days=k), tmp_path / "snaps", handoff=handoff)
        files = snapshot_files(tmp_path / "snaps", day + timedelta(days=k))
        for schema in (ACCOUNT_STATE_SCHEMA, SOME):
            handed = handoff.table(files, schema)
            assert handed is not None
            assert handed.equals(_read(files, schema))
        assert handed.num_rows == 40


def test_rows_of_rewritten_or_missing_files_are_refused(tmp_path: Path) -> None:
    data_dir = write_book(random_book(12, accounts=20), tmp_path / "book")
    day = START + timedelta(days=80)
    first = AccountHandoff(["account_id", "status", "dpd"])
    run_eod(data_dir, day, tmp_path / "snaps", handoff=first)
    files = snapshot_files(tmp_path / "snaps", day)
    assert first.table(files, SOME) is not None
    assert first.table([*files, tmp_path / "nowhere.parquet"], SOME) is None
    run_eod(data_dir, day, tmp_path / "snaps", rebuild=True)  # the same day written again
    assert first.table(snapshot_files(tmp_path / "snaps", day), SOME) is None
    assert first.table([], SOME) is None


def test_rows_beyond_the_memory_limit_are_not_kept(tmp_path: Path) -> None:
    data_dir = write_book(random_book(13, accounts=30), tmp_path / "book")
    day = START + timedelta(days=80)
    small = AccountHandoff(max_bytes=1000)
    run_eod(data_dir, day, tmp_path / "snaps", handoff=small)
    assert small.overflowed
    assert small.table(snapshot_files(tmp_path / "snaps", day), SOME) is None


def test_columns_not_kept_are_refused(tmp_path: Path) -> None:
    data_dir = write_book(random_book(14, accounts=10), tmp_path / "book")
    day = START + timedelta(days=80)
    narrow = AccountHandoff(["account_id"])
    run_eod(data_dir, day, tmp_path / "snaps", handoff=narrow)
    files = snapshot_files(tmp_path / "snaps", day)
    only_ids = pa.schema([ACCOUNT_STATE_SCHEMA.field("account_id")])
    assert narrow.table(files, only_ids) is not None
    with pytest.raises(AssertionError, match="not kept"):
        narrow.table(files, SOME)


def test_narrowed_rows_keep_only_the_reader_s_columns(tmp_path: Path) -> None:
    """Narrowed before, during (from another thread, as ``overdue eod --models`` does) or
    after the batch, the rows kept are the files' rows of the columns left."""
    import threading

    data_dir = write_book(random_book(15, accounts=30), tmp_path / "book")
    day = START + timedelta(days=90)
    for when in ("before", "beside", "after"):
        handoff = AccountHandoff()
        if when == "before":
            handoff.narrow(SOME.names)
        beside = threading.Thread(target=handoff.narrow, args=(SOME.names,))
        if when == "beside":
            beside.start()
        run_eod(data_dir, day, tmp_path / when, handoff=handoff)
        if when == "beside":
            beside.join()
        if when == "after":
            handoff.narrow(SOME.names)
        files = snapshot_files(tmp_path / when, day)
        handed = handoff.table(files, SOME)
        assert handed is not None and handed.equals(_read(files, SOME))
        with pytest.raises(AssertionError, match="not kept"):
            handoff.table(files, ACCOUNT_STATE_SCHEMA)

"""State files written in the background by the daily scoring (``daily_features.StateWrites``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from overdue.scoring import daily_features


def test_writes_are_whole_when_the_block_ends(tmp_path: Path) -> None:
    table = pa.table({"account_id": ["a", "b"], "n": [1, 2]})
    with daily_features.StateWrites() as writes:
        writes.write(tmp_path, "one.arrow", table, "f1")
        writes.write(tmp_path, "two.arrow", table.slice(1), "f2")
    assert daily_features._read_state(tmp_path, "one.arrow", "f1").equals(table)
    assert daily_features._read_state(tmp_path, "two.arrow", "f2").equals(table.slice(1))
    assert daily_features._read_state(tmp_path, "two.arrow", "f1") is None  # fingerprint kept


def test_a_failed_write_is_raised_by_wait(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    table = pa.table({"n": [1]})
    with pytest.raises(OSError), daily_features.StateWrites() as writes:
        writes.write(blocked, "x.arrow", table, "f")  # its state folder cannot be made
        writes.wait()
    with daily_features.StateWrites() as writes:  # and on leaving the block, without wait
        writes.write(tmp_path, "ok.arrow", table, "f")
    with pytest.raises(OSError), daily_features.StateWrites() as writes:
        writes.write(blocked, "x.arrow", table, "f")
    assert daily_features._read_state(tmp_path, "ok.arrow", "f").equals(table)


def test_writes_in_flight_are_limited(tmp_path: Path) -> None:
    table = pa.table({"n": [1]})
    with daily_features.StateWrites() as writes:
        for k in range(daily_features.StateWrites.MAX_PENDING):
            writes.write(tmp_path, f"s{k}.arrow", table, "f")
        with pytest.raises(AssertionError):
            writes.write(tmp_path, "one-too-many.arrow", table, "f")
        writes.wait()
        writes.write(tmp_path, "after-wait.arrow", table, "f")  # room again
    assert (tmp_path / daily_features.STATE_DIR / "after-wait.arrow").is_file()

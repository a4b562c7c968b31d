"""The validated book on disk: write it atomically, read a table, one day's events, or a range.

Layout of DATA_DIR (format ``overdue-book/1``)::

    manifest.json
    customers.parquet
    accounts.parquet
    due_items/entry_date=2026-01-01/part-0.parquet     (one folder per booking date)
    payments/entry_date=.../part-0.parquet
    waivers/...   reversals/...                        (empty tables may be omitted)
    policies/<name>.toml                               (optional, copied from the source)
    quarantine/<table>.csv, <table>.duplicates.csv     (written by ingest)

Event files do not store ``entry_date``: it is the folder name (hive partitioning), so
``read_events`` opens exactly one folder and never scans other days. Readers here add the column back.

Event files written by the book's own writers (``write_book``, used by ingest, and the twin) also
hold ``account_no``, an internal column beside the contract's: the row of the event's account in
``accounts.parquet`` (0-based). The manifest says so (``"account_no": true``). The batch's
rebuild groups the events by it instead of joining them to the accounts on their string ids
(``flat_rebuild``). Files added to a book later by other writers (the strategy simulation's
payments, the store's waivers) may lack it; the rebuild then joins those tables as before.
Readers of the contract's tables select the contract's columns and never see it.

``write_book`` writes ``accounts.parquet`` in account-id order and each day's event file in
row groups of ``ACCOUNT_SPAN`` accounts (by ``account_no``; booking order inside a group), as
the twin does: a rebuild in slabs then reads each slab's row groups only (``flat_rebuild``),
instead of staging every event by slab first.
DuckDB reads the same layout with ``read_parquet('DATA_DIR/payments/*/*.parquet',
hive_partitioning = true)`` and prunes folders on ``entry_date`` filters.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio.contract import FORMAT, TABLES, TableSpec, conform, schema_problems

MANIFEST: Final = "manifest.json"
QUARANTINE_DIR: Final = "quarantine"
POLICIES_DIR: Final = "policies"
PART_FILE: Final = "part-0.parquet"
PARTITION_PREFIX: Final = "entry_date="
MAX_PARTITIONS: Final = 200 * 366  # one folder per booking day, two centuries at most
FSYNC_THREADS: Final = 16
ACCOUNT_NO: Final = "account_no"  # internal column of event files: the account's row (module doc)
ACCOUNT_SPAN: Final = 200_000  # accounts (by account_no) per row group of an event file

Progress = Callable[[str, int, int], None]
"""Callback ``(description, completed, total)`` for long work; the CLI draws Rich bars with it."""


class BookLayoutError(ValueError):
    """A DATA_DIR that is not a readable book, or that may not be overwritten."""


@dataclass(frozen=True)
class Manifest:
    first_date: date | None
    last_date: date | None
    tables: dict[str, int]
    provenance: dict[str, Any]
    account_no: bool = False  # every event file holds ``account_no`` (module doc)

    def to_json(self) -> dict[str, Any]:
        keyed = {ACCOUNT_NO: True} if self.account_no else {}
        return {
            "format": FORMAT,
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "tables": dict(self.tables),
            **keyed,
            **self.provenance,
        }


def keyed_file_schema(spec: TableSpec) -> pa.Schema:
    """An event file's schema with the internal ``account_no`` column last."""
    assert spec.partitioned, f"{spec.name}: only event files carry {ACCOUNT_NO}"
    return spec.file_schema().append(pa.field(ACCOUNT_NO, pa.int64(), nullable=False))


def account_rows(account_ids: pa.Array | pa.ChunkedArray, accounts: pa.Table) -> pa.Array | None:
    """Each id's row in ``accounts`` (its ``account_no``), or None if an id is not there."""
    rows = pc.index_in(account_ids, value_set=accounts.column("account_id").combine_chunks())
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    if rows.null_count:
        return None
    return rows.cast(pa.int64())


def is_keyed(data_dir: Path) -> bool:
    """Whether the book's writer put ``account_no`` into its event files (the manifest says)."""
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        return False
    return json.loads(path.read_text(encoding="utf-8")).get(ACCOUNT_NO) is True


# ---------------------------------------------------------------- writing


def write_book(
    data_dir: Path,
    tables: Mapping[str, pa.Table],
    *,
    provenance: Mapping[str, Any],
    replace: bool = False,
    extra: Callable[[Path], None] | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Write ``tables`` (contract names → Arrow tables) as a book in ``data_dir``, atomically.

    Everything is written into a hidden temporary folder next to ``data_dir`` and renamed into
    place at the end, so a crash leaves either no ``data_dir`` (or the previous one) and never a
    half-written one. ``provenance`` goes into the manifest (``{"source": ...}`` or
    ``{"generator": ...}``). ``extra(tmp_dir)`` may add files (quarantine, policies) before the
    rename. ``replace`` allows overwriting an existing book (a folder with a manifest).
    """
    assert set(provenance) & {"source", "generator"}, "provenance names a source or a generator"
    unknown = set(tables) - set(TABLES)
    assert not unknown, f"not contract tables: {sorted(unknown)}"
    data_dir = Path(data_dir)
    check_writable(data_dir, replace=replace)
    conformed = {name: _conformed(TABLES[name], table) for name, table in tables.items()}
    if "accounts" in conformed:
        conformed["accounts"] = _in_id_order(conformed["accounts"])
    keys = _account_nos(conformed)
    manifest = Manifest(
        first_date=_first_date(conformed),
        last_date=_last_date(conformed),
        tables={name: t.num_rows for name, t in conformed.items()},
        provenance=dict(provenance),
        account_no=keys is not None,
    )
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = data_dir.parent / f".{data_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp_dir.mkdir()
    try:
        for name, table in conformed.items():
            _write_table(tmp_dir, TABLES[name], table, progress, (keys or {}).get(name))
        if extra is not None:
            extra(tmp_dir)
        (tmp_dir / MANIFEST).write_text(
            json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        _flush_to_disk(tmp_dir)  # contents on disk before the rename makes them visible
        _move_into_place(tmp_dir, data_dir, replace=replace)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return manifest


def check_writable(data_dir: Path, *, replace: bool) -> None:
    """Raise ``BookLayoutError`` unless ``data_dir`` is absent, empty, or a book we may replace."""
    if not data_dir.exists():
        return
    if not data_dir.is_dir():
        raise BookLayoutError(f"{data_dir} exists and is not a folder")
    if not any(data_dir.iterdir()):
        return
    if not replace:
        raise BookLayoutError(f"{data_dir} is not empty; pass --replace to overwrite a book")
    if not (data_dir / MANIFEST).is_file():
        raise BookLayoutError(f"{data_dir} is not empty and has no {MANIFEST}: refusing to replace")


def _conformed(spec: TableSpec, table: pa.Table) -> pa.Table:
    table = conform(spec, table)
    keys = table.column(spec.key)
    assert pc.count_distinct(keys).as_py() == table.num_rows, f"{spec.name}: duplicate keys"
    if spec.partitioned:
        seqs = table.column("entry_seq")
        assert pc.count_distinct(seqs).as_py() == table.num_rows, f"{spec.name}: entry_seq reused"
    return table


def _in_id_order(accounts: pa.Table) -> pa.Table:
    """The accounts sorted by ``account_id`` (unchanged when they are): so ``account_no``
    follows the ids, and the rebuild numbers the accounts as they come (``flat_rebuild``)."""
    ids = accounts.column("account_id")
    if strictly_increasing(ids):
        return accounts
    return accounts.take(pc.sort_indices(ids))


def strictly_increasing(ids: pa.ChunkedArray | pa.Array) -> bool:
    """Whether ``ids`` has no null and each id is greater than the one before."""
    values = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    if values.null_count:
        return False
    if len(values) < 2:
        return True
    return bool(pc.all(pc.greater(values.slice(1), values.slice(0, len(values) - 1))).as_py())


def _account_nos(tables: Mapping[str, pa.Table]) -> dict[str, pa.Array] | None:
    """Each event table's ``account_no`` column, or None (no accounts table, or an event of an
    account it does not hold: then the book is written without the column)."""
    if "accounts" not in tables:
        return None
    keys = {}
    for name, table in tables.items():
        if TABLES[name].partitioned:
            rows = account_rows(table.column("account_id"), tables["accounts"])
            if rows is None:
                return None
            keys[name] = rows
    return keys


def _write_table(
    root: Path,
    spec: TableSpec,
    table: pa.Table,
    progress: Progress | None,
    account_no: pa.Array | None = None,
) -> None:
    if not spec.partitioned:
        pq.write_table(table, root / f"{spec.name}.parquet")
        return
    if table.num_rows == 0:
        return  # empty event tables are omitted
    order = [("entry_date", "ascending"), ("entry_seq", "ascending")]
    spans = None
    if account_no is not None:
        table = table.append_column(pa.field(ACCOUNT_NO, pa.int64(), nullable=False), account_no)
        spans = pc.divide(account_no, pa.scalar(ACCOUNT_SPAN, pa.int64()))
        table = table.append_column(_SPAN, spans)
        order.insert(1, (_SPAN, "ascending"))
    ordered = table.sort_by(order)
    days = ordered.column("entry_date").combine_chunks()
    groups = ordered.column(_SPAN).combine_chunks() if spans is not None else None
    file_table = ordered.drop_columns(["entry_date", *([_SPAN] if spans is not None else [])])
    starts = _run_starts(days)
    assert len(starts) <= MAX_PARTITIONS, f"{spec.name}: {len(starts)} booking days"
    ends = [*starts[1:], ordered.num_rows]
    for done, (start, end) in enumerate(zip(starts, ends, strict=True), start=1):
        day = days[start].as_py()
        folder = root / spec.name / f"{PARTITION_PREFIX}{day.isoformat()}"
        folder.mkdir(parents=True)
        rows = file_table.slice(start, end - start)
        if groups is None:
            pq.write_table(rows, folder / PART_FILE)
        else:
            _write_by_span(rows, groups.slice(start, end - start), folder / PART_FILE)
        if progress is not None:
            progress(f"writing {spec.name}", done, len(starts))


_SPAN = "__account_span"  # while writing: account_no // ACCOUNT_SPAN, a row group's key


def _write_by_span(rows: pa.Table, spans: pa.Array, path: Path) -> None:
    """``rows`` (sorted by their ``spans``) as one file, a row group per span of accounts."""
    starts = _run_starts(spans)
    ends = [*starts[1:], rows.num_rows]
    with pq.ParquetWriter(path, rows.schema) as writer:
        for start, end in zip(starts, ends, strict=True):
            writer.write_table(rows.slice(start, end - start), row_group_size=end - start)


def _run_starts(sorted_days: pa.Array) -> list[int]:
    values = sorted_days.cast(pa.int32()).to_numpy()
    change = np.flatnonzero(np.diff(values)) + 1
    return [0, *change.tolist()]


def _first_date(tables: Mapping[str, pa.Table]) -> date | None:
    found = [
        pc.min(t.column(f.name)).as_py()
        for t in tables.values()
        for f in t.schema
        if f.type == pa.date32() and t.num_rows
    ]
    return min(found) if found else None


def _last_date(tables: Mapping[str, pa.Table]) -> date | None:
    found = [
        pc.max(t.column("entry_date")).as_py()
        for name, t in tables.items()
        if TABLES[name].partitioned and t.num_rows
    ]
    return max(found) if found else None


def _flush_to_disk(root: Path) -> None:
    """fsync every file, then every folder, under ``root`` (ours only, unlike a system sync).

    The fsyncs run on a small thread pool: the file system commits them together, which is
    many times faster than one after the other for a book of hundreds of day folders.
    """
    entries = list(root.rglob("*"))
    assert len(entries) <= 4 * MAX_PARTITIONS + 10_000, f"{root}: {len(entries)} entries"
    files = [p for p in entries if p.is_file()]
    folders = [p for p in entries if p.is_dir()] + [root]
    with ThreadPoolExecutor(max_workers=FSYNC_THREADS) as pool:
        list(pool.map(_fsync, files))
        list(pool.map(_fsync, folders))


def _fsync(path: Path) -> None:
    directory = getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0
    try:
        fd = os.open(path, os.O_RDONLY | directory)
    except OSError:  # some platforms cannot open folders; their files are synced anyway
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(tmp_dir: Path, data_dir: Path, *, replace: bool) -> None:
    if data_dir.exists() and not any(data_dir.iterdir()):
        data_dir.rmdir()
    if not data_dir.exists():
        os.rename(tmp_dir, data_dir)
        return
    assert replace, "check_writable refused this already"
    old = data_dir.parent / f".{data_dir.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(data_dir, old)
    try:
        os.rename(tmp_dir, data_dir)
    except BaseException:
        os.rename(old, data_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- reading


def read_manifest(data_dir: Path) -> dict[str, Any]:
    path = Path(data_dir) / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BookLayoutError(f"{path} not found: {data_dir} is not a book") from None
    if manifest.get("format") != FORMAT:
        raise BookLayoutError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


def read_table(data_dir: Path, name: str) -> pa.Table:
    """The whole table (for event tables: every booking day, ordered by entry_date, entry_seq)."""
    spec = TABLES[name]
    if spec.partitioned:
        return _read_days(Path(data_dir), spec, partition_dates(data_dir, name))
    path = Path(data_dir) / f"{name}.parquet"
    if not path.is_file():
        if spec.optional:
            return spec.empty()
        raise BookLayoutError(f"{path} not found")
    return _checked(spec, pq.read_table(path, schema=spec.file_schema()))


def partition_dates(data_dir: Path, name: str) -> list[date]:
    """Booking dates that have events in table ``name``, ascending (folder names only)."""
    assert TABLES[name].partitioned, f"{name} is not an event table"
    folder = Path(data_dir) / name
    if not folder.is_dir():
        return []
    days = sorted(_partition_day(entry) for entry in _partition_entries(folder))
    assert len(days) <= MAX_PARTITIONS, f"{folder}: {len(days)} partitions"
    return days


def read_events(data_dir: Path, name: str, entry_date: date) -> pa.Table:
    """The events of table ``name`` booked on ``entry_date``, in ``entry_seq`` order.

    Opens only ``name/entry_date=<entry_date>/``; returns an empty table when that day has none.
    """
    return _read_days(Path(data_dir), TABLES[name], [entry_date])


def read_events_until(
    data_dir: Path, name: str, last_entry_date: date, *, first_entry_date: date | None = None
) -> pa.Table:
    """Events booked in ``[first_entry_date, last_entry_date]`` (all history when no first date).

    Chooses folders by name, so later days are never opened.
    """
    days = [
        day
        for day in partition_dates(data_dir, name)
        if day <= last_entry_date and (first_entry_date is None or day >= first_entry_date)
    ]
    return _read_days(Path(data_dir), TABLES[name], days)


def events_glob(data_dir: Path, name: str) -> str:
    """Glob of an event table's files for engines with hive partitioning (DuckDB, Spark)."""
    assert TABLES[name].partitioned, f"{name} is not an event table"
    return str(Path(data_dir) / name / f"{PARTITION_PREFIX}*" / "*.parquet")


def _partition_entries(folder: Path) -> Iterator[Path]:
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        if not (entry.is_dir() and entry.name.startswith(PARTITION_PREFIX)):
            raise BookLayoutError(f"{entry}: not an {PARTITION_PREFIX}YYYY-MM-DD folder")
        yield entry


def _partition_day(entry: Path) -> date:
    text = entry.name.removeprefix(PARTITION_PREFIX)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BookLayoutError(f"{entry}: {text!r} is not a YYYY-MM-DD date") from None


def _read_days(data_dir: Path, spec: TableSpec, days: list[date]) -> pa.Table:
    assert spec.partitioned and len(days) <= MAX_PARTITIONS
    schema = spec.file_schema()
    parts = []
    for day in sorted(days):
        path = data_dir / spec.name / f"{PARTITION_PREFIX}{day.isoformat()}" / PART_FILE
        if not path.is_file():
            continue
        part = pq.read_table(path, schema=schema)
        parts.append(_with_entry_date(spec, part, day))
    if not parts:
        return spec.empty()
    return _checked(spec, pa.concat_tables(parts))


def _with_entry_date(spec: TableSpec, part: pa.Table, day: date) -> pa.Table:
    entry_dates = pa.array(np.full(part.num_rows, day, dtype="datetime64[D]")).cast(pa.date32())
    columns = {name: part.column(name) for name in part.column_names}
    columns["entry_date"] = entry_dates
    return pa.table([columns[n] for n in spec.column_names], schema=spec.arrow_schema())


def _checked(spec: TableSpec, table: pa.Table) -> pa.Table:
    problems = schema_problems(spec, table)
    if problems:
        raise BookLayoutError("; ".join(problems))
    return table

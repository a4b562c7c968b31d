"""The day's account rows, kept in memory by the batch for a reader in the same process.

The daily run with ``--models`` scores the snapshot right after the batch wrote it. Reading
the account files back decodes Parquet into freshly allocated memory (the slowest part of the
scoring's selection step on a large book); the batch had those very rows in memory a moment
before. ``AccountHandoff`` keeps some columns of each batch of account rows the batch writes
and, once a file is closed, its identity (device, inode, size, modification time: a rename
keeps them, a rewrite does not). A reader asks for the rows of a list of files and gets them
only when every file is one the batch wrote and has not changed since, in the files' order;
otherwise it reads the files as before. The rows are the ones written, so both ways give the
same table (a test compares them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

# Memory the kept rows may take (Arrow buffers); beyond it nothing is kept and the reader reads
# the files, so that a book of hundreds of millions of accounts streams as it did. 2 GiB holds
# the 26 columns the daily scoring reads for about 13 million accounts.
DEFAULT_MAX_BYTES = 2 << 30
MAX_BYTES = 64 << 30

Identity = tuple[int, int, int, int]


def file_identity(file: Path) -> Identity:
    """(device, inode, size, modification time in ns): what a rename keeps."""
    stat = os.stat(file)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


class AccountHandoff:
    """The account rows of the files a batch writes (see the module): ``columns`` of them
    (None: all)."""

    def __init__(
        self, columns: Sequence[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        assert columns is None or len(columns) > 0, "no columns to keep"
        assert 0 < max_bytes <= MAX_BYTES
        self.columns = None if columns is None else list(columns)
        self.max_bytes = max_bytes
        self._open: dict[str, list[pa.RecordBatch]] = {}
        self._closed: dict[Identity, list[pa.RecordBatch]] = {}
        self._bytes = 0
        self.overflowed = False
        self._lock = threading.Lock()  # ``narrow`` may come from another thread

    def add(self, file: Path, batch: pa.RecordBatch) -> None:
        """Keep ``batch``'s columns as rows written to ``file`` (still open)."""
        with self._lock:
            if self.overflowed:
                return
            kept = batch if self.columns is None else batch.select(self.columns)
            if self._bytes + kept.nbytes > self.max_bytes:
                self._open.clear()
                self._closed.clear()
                self._bytes = 0
                self.overflowed = True  # the reader reads the files: nothing kept from now on
                return
            self._open.setdefault(str(file), []).append(kept)
            self._bytes += kept.nbytes

    def narrow(self, columns: Sequence[str]) -> None:
        """Keep only ``columns`` (of those kept) from now on, and of the rows kept so far: the
        reader, once it knows what it reads, lets the rest go while the batch runs."""
        assert columns, "no columns to keep"
        with self._lock:
            assert self.columns is None or set(columns) <= set(self.columns), "not kept"
            self.columns = list(columns)
            self._bytes = 0
            for kept in (*self._open.values(), *self._closed.values()):
                kept[:] = [batch.select(self.columns) for batch in kept]
                self._bytes += sum(batch.nbytes for batch in kept)

    def closed(self, file: Path) -> None:
        """``file`` is written and closed: its rows are kept under its identity."""
        with self._lock:
            batches = self._open.pop(str(file), [])
            if not self.overflowed:
                self._closed[file_identity(file)] = batches

    def table(self, files: Sequence[Path], schema: pa.Schema) -> pa.Table | None:
        """The kept rows of ``files`` in their order as ``schema`` (a subset of the kept
        columns), or None unless every file is one the batch wrote, unchanged."""
        assert self.columns is None or set(schema.names) <= set(self.columns), "not kept"
        if not files or self.overflowed:
            return None
        batches: list[pa.RecordBatch] = []
        for file in files:
            try:
                identity = file_identity(file)
            except OSError:
                return None
            with self._lock:
                found = self._closed.get(identity)
            if found is None:
                return None
            batches.extend(found)
        if not batches:
            return schema.empty_table()
        if not set(schema.names) <= set(batches[0].schema.names):
            return None
        table = pa.Table.from_batches(batches).select(schema.names)
        if not table.schema.equals(schema):
            table = table.cast(schema)
        return table

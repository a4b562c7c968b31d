"""``generate_book``: write a synthetic book (the digital twin) into a folder, chunk by chunk.

Accounts are simulated in chunks of ``chunk_size`` (so memory stays bounded whatever the book
size); each chunk appends a row group to ``customers.parquet`` / ``accounts.parquet`` and writes
its own part files of the event tables. The same (seed, accounts, months, scenario, start,
chunk_size) always gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow.parquet as pq

from overdue.portfolio.book_layout import MANIFEST, Manifest, check_writable
from overdue.portfolio.contract import TABLES
from overdue.twin.behaviour import SCENARIOS, Behaviour
from overdue.twin.output import (
    EVENT_TABLES,
    LATENT_FILE,
    MAX_CHUNKS,
    TRUTH_DIR,
    ChunkTables,
    StagedPart,
    merge_staged,
    stage_events,
)
from overdue.twin.seasonality import covers, month_index
from overdue.twin.simulate import ChunkResult, ChunkSimulator, Window

DEFAULT_START: Final = date(2024, 1, 1)
DEFAULT_CHUNK_SIZE: Final = 200_000
MAX_ACCOUNTS: Final = 100_000_000
MAX_MONTHS: Final = 120
CELLS_PER_CHUNK: Final = 2_400_000  # accounts × months held in memory at once
GENERATOR_NAME: Final = "overdue-twin/1"
STAGING_DIR: Final = "_staging"

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class TwinSpec:
    """What to generate. ``start`` is the first day of the window (a month's 1st)."""

    accounts: int
    months: int
    seed: int
    scenario: str = "baseline"
    start: date = DEFAULT_START
    chunk_size: int | None = None
    behaviour: Behaviour = field(default_factory=Behaviour)

    def __post_init__(self) -> None:
        if not 1 <= self.accounts <= MAX_ACCOUNTS:
            raise ValueError(f"accounts: {self.accounts} must be between 1 and {MAX_ACCOUNTS}")
        if not 2 <= self.months <= MAX_MONTHS:
            raise ValueError(f"months: {self.months} must be between 2 and {MAX_MONTHS}")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario: {self.scenario!r} is not one of {', '.join(SCENARIOS)}")
        if self.start.day != 1:
            raise ValueError(f"start: {self.start} must be the first day of a month")
        if not covers(self.start, self.window_last_date):
            raise ValueError(
                f"start: {self.start} + {self.months} months leaves the years the Spring "
                "Festival table covers (2010–2035)"
            )
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed: {self.seed} must be between 0 and 2^63 − 1")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise ValueError(f"chunk_size: {self.chunk_size} must be ≥ 1")

    @property
    def window(self) -> Window:
        return Window(first_month=month_index(self.start), months=self.months)

    @property
    def window_last_date(self) -> date:
        index = month_index(self.start) + self.months
        first_after = date(1970 + index // 12, index % 12 + 1, 1)
        return date.fromordinal(first_after.toordinal() - 1)

    @property
    def effective_chunk_size(self) -> int:
        size = self.chunk_size or min(
            DEFAULT_CHUNK_SIZE, max(10_000, CELLS_PER_CHUNK // self.months)
        )
        return min(size, self.accounts)

    def chunks(self) -> list[tuple[int, int, int]]:
        """(chunk index, first account, number of accounts) of each chunk."""
        size = self.effective_chunk_size
        starts = range(0, self.accounts, size)
        chunks = [(i, s, min(size, self.accounts - s)) for i, s in enumerate(starts)]
        if len(chunks) > MAX_CHUNKS:
            raise ValueError(f"chunk_size: {size} makes more than {MAX_CHUNKS} chunks")
        return chunks

    def generator_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "accounts": self.accounts,
            "months": self.months,
            "scenario": self.scenario,
            "start": self.start.isoformat(),
            "chunk_size": self.effective_chunk_size,
            "name": GENERATOR_NAME,
        }


def simulate(spec: TwinSpec, chunk: tuple[int, int, int]) -> tuple[ChunkSimulator, ChunkResult]:
    index, first, count = chunk
    sim = ChunkSimulator(
        spec.seed, index, first, count, spec.window, spec.behaviour, SCENARIOS[spec.scenario]
    )
    return sim, sim.run()


def generate_book(
    spec: TwinSpec, out: Path, progress: Progress | None = None, *, replace: bool = False
) -> dict[str, Any]:
    """Write the book into ``out`` atomically and return its manifest.

    Chunks write their event rows into a staging folder (one file per chunk and booking day);
    then each day's files are merged, in chunk order, into the ``part-0.parquet`` the book layout
    reads. Everything happens in a hidden folder next to ``out`` that is renamed into place at
    the end. ``replace`` allows overwriting an existing book (a folder with a manifest).
    """
    out = Path(out)
    check_writable(out, replace=replace)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        counts, staged = _write_chunks(spec, tmp, progress)
        _merge(tmp, staged, progress)
        manifest = Manifest(
            first_date=spec.start,
            last_date=spec.window_last_date,
            tables={name: n for name, n in counts.items() if n or not TABLES[name].optional},
            provenance={"generator": spec.generator_json()},
            account_no=True,  # every event file holds it (twin.output)
        ).to_json()
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        (tmp / MANIFEST).write_text(text, encoding="utf-8")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _write_chunks(
    spec: TwinSpec, root: Path, progress: Progress | None
) -> tuple[dict[str, int], dict[str, list[StagedPart]]]:
    chunks = spec.chunks()
    counts = dict.fromkeys(TABLES, 0)
    staged: dict[str, list[StagedPart]] = {name: [] for name in EVENT_TABLES}
    writers: dict[str, pq.ParquetWriter] = {}
    staging = root / STAGING_DIR
    try:
        for done, chunk in enumerate(chunks):
            sim, result = simulate(spec, chunk)
            tables = ChunkTables(sim, result, chunk[0])
            static = {
                "customers": tables.customers(),
                "accounts": tables.accounts(),
                LATENT_FILE: tables.latent_types(),
            }
            for name, table in static.items():
                if name not in writers:
                    is_truth = name == LATENT_FILE
                    path = root / TRUTH_DIR / name if is_truth else root / f"{name}.parquet"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    writers[name] = pq.ParquetWriter(path, table.schema)
                writers[name].write_table(table)
                if name in counts:
                    counts[name] += table.num_rows
            for name in EVENT_TABLES:
                table = getattr(tables, name)()
                part = stage_events(staging, name, table, chunk[0])
                if part is not None:
                    staged[name].append(part)
                    counts[name] += table.num_rows
            del sim, result, tables
            if progress is not None:
                progress("simulating", done + 1, len(chunks))
    finally:
        for writer in writers.values():
            writer.close()
    return counts, staged


def _merge(root: Path, staged: dict[str, list[StagedPart]], progress: Progress | None) -> None:
    """Merge the chunks' staged rows into one ``part-0.parquet`` per table and booking day."""
    for done, (name, parts) in enumerate(staged.items()):
        merge_staged(root, name, parts)
        if progress is not None:
            progress("writing days", done + 1, len(staged))
    shutil.rmtree(root / STAGING_DIR, ignore_errors=True)


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished book into ``out``; a replaced book is removed only afterwards."""
    if out.exists() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def month_end_panel(spec: TwinSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The generator's own month-end DPD for every account, without writing anything.

    Returns (dpd (n, M), owes (n, M), product (n,), latent type (n,)). Cheap: for tuning; the
    published calibration uses the reference engine on a sample of the written book.
    """
    dpd, owes, product, kind = [], [], [], []
    for chunk in spec.chunks():
        _sim, result = simulate(spec, chunk)
        dpd.append(result.month_end_dpd)
        owes.append(result.month_end_owes)
        product.append(result.terms.product)
        kind.append(result.population.account_type)
    return np.concatenate(dpd), np.concatenate(owes), np.concatenate(product), np.concatenate(kind)

"""The end-of-day batch over the whole book: ``run_eod(data_dir, as_of, snapshot_dir, engine)``.

Two paths, one result. With an earlier snapshot in ``snapshot_dir`` the run is incremental: that
snapshot plus the events booked after it (read from their ``entry_date`` partitions only); an
account with a backdated entry (value date on or before the previous snapshot), a reversal, or
no previous row is replayed from its whole history. Without one, every account is rebuilt from
history. Only events booked on or before ``as_of`` exist for a snapshot of ``as_of``.

Snapshots live in ``snapshot_dir/as_of=YYYY-MM-DD/`` (``accounts/``, ``items/`` and
``transitions/`` Parquet and ``manifest.json``), written into a temporary folder and renamed into
place: a crash leaves no partial snapshot, and rerunning a date replaces it with identical
content. ``accounts/`` holds one row per account (``ACCOUNT_STATE_SCHEMA``: the state and the
as-of summary of its item ledgers), ``items/`` one row per item ledger (``ITEM_ROW_SCHEMA``, a
flat side table: ``snapshot_item_files``), ``transitions/`` one row per bucket transition, and
``read_snapshot`` joins the three back into the kernel's nested rows.

Format 3 (``SNAPSHOT_FORMAT``) added the item summary to ``accounts/`` and dropped its nested
``transitions`` column (format 2). A format 2 snapshot is still resumed from (the incremental
run reads only the account columns both formats have) and read by ``read_snapshot``; a
snapshot of another format is refused with a message to rebuild.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from overdue.domain.policy import Policy, Product
from overdue.portfolio import contract
from overdue.portfolio.account_handoff import AccountHandoff
from overdue.portfolio.book_layout import is_keyed
from overdue.portfolio.engines import (
    TRANSITION_PARTS,
    TRANSITION_WRITE,
    Backend,
    ResumeInputs,
    SnapshotPart,
    make_backend,
)
from overdue.portfolio.eod_inputs import BookKeys, BookTables, replay_accounts
from overdue.portfolio.kernel import ACCOUNT_BASE_SCHEMA, ITEM_ROW_SCHEMA, KernelConfig
from overdue.portfolio.snapshot_items import (
    TRANSITION_ORDER,
    TRANSITION_ROW_SCHEMA,
    UNSORTED_MARK,
    in_key_order,
    join_items,
)

SNAPSHOT_PREFIX = "as_of="
# /2: item ledgers in the items/ side table; /3: the item summary in accounts/, no nested
# transitions there (they are in transitions/ only)
SNAPSHOT_FORMAT = "overdue-snapshot/3"
RESUMABLE_FORMATS = ("overdue-snapshot/2", SNAPSHOT_FORMAT)
MAX_PARTITIONS = 100_000


class EodError(ValueError):
    """Bad input to the batch (missing book, unknown policy …); one line, names the source."""


@dataclass
class EodResult:
    as_of: str
    mode: str  # "rebuild" or "incremental"
    engine: str
    previous: str | None
    accounts: int
    resumed: int = 0
    replayed: int = 0
    transitions: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    snapshot: str = ""


# -- the book's files ---------------------------------------------------------------------------


def partition_dates(table_dir: Path) -> dict[date, Path]:
    """The ``entry_date=YYYY-MM-DD`` partitions of an event table (none if it is absent)."""
    found: dict[date, Path] = {}
    if not table_dir.is_dir():
        return found
    with os.scandir(table_dir) as entries:  # the entries' types come with the listing: no stat
        for entry in entries:
            if entry.name.startswith("entry_date=") and entry.is_dir():
                found[date.fromisoformat(entry.name.split("=", 1)[1])] = table_dir / entry.name
    assert len(found) <= MAX_PARTITIONS, f"{table_dir}: more than {MAX_PARTITIONS} partitions"
    return found


def event_files(data_dir: Path, table: str, first: date | None, last: date) -> list[Path]:
    """Parquet files of ``table`` booked in (``first``, ``last``] (all up to ``last`` if no first)."""
    files: list[Path] = []
    for day, folder in sorted(partition_dates(data_dir / table).items()):
        if day <= last and (first is None or day > first):
            files.extend(sorted(folder.glob("*.parquet")))
    return files


def load_book(backend: Backend, data_dir: Path, after: date | None, as_of: date) -> BookTables:
    accounts_file = data_dir / "accounts.parquet"
    if not accounts_file.is_file():
        raise EodError(
            f"{accounts_file}: no accounts table (is {data_dir} a book? see docs/data-contract.md)"
        )
    accounts = backend.read_table([accounts_file], contract.ACCOUNTS.arrow_schema(), None)
    events, files = {}, {}
    for name in ("due_items", "payments", "waivers", "reversals"):
        spec = contract.TABLES[name]
        files[name] = event_files(data_dir, name, after, as_of)
        events[name] = backend.read_table(files[name], spec.arrow_schema(), data_dir / name)
    keys = BookKeys(accounts_file, files) if is_keyed(data_dir) else None
    return BookTables(accounts=accounts, events=events, keys=keys)


def resolve_policies(data_dir: Path) -> dict[tuple[str, str], Policy]:
    """Every (policy, product) pair the accounts name, resolved once on the driver."""
    from overdue.config.policies import PolicyConfigError, build_policy, load_policy_source

    table = pq.read_table(data_dir / "accounts.parquet", columns=["policy", "product"])
    # The distinct pairs found by Arrow: a million accounts as Python tuples took 0.6 s.
    distinct = table.group_by(["policy", "product"]).aggregate([])
    pairs = {(row["policy"], row["product"]) for row in distinct.to_pylist()}
    resolved: dict[tuple[str, str], Policy] = {}
    for name, product in sorted(pairs):
        local = data_dir / "policies" / f"{name}.toml"
        try:
            settings = load_policy_source(local if local.is_file() else name)
            resolved[(name, product)] = build_policy(Product(product), settings, source=str(local))
        except (PolicyConfigError, ValueError) as exc:
            raise EodError(f"{data_dir / 'accounts.parquet'}: policy {name!r}: {exc}") from None
    return resolved


# -- snapshots ----------------------------------------------------------------------------------


def snapshot_dates(snapshot_dir: Path) -> list[date]:
    if not snapshot_dir.is_dir():
        return []
    days = [
        date.fromisoformat(child.name.removeprefix(SNAPSHOT_PREFIX))
        for child in snapshot_dir.iterdir()
        if child.is_dir()
        and child.name.startswith(SNAPSHOT_PREFIX)
        and (child / "manifest.json").is_file()
    ]
    return sorted(days)


def snapshot_path(snapshot_dir: Path, as_of: date) -> Path:
    return snapshot_dir / f"{SNAPSHOT_PREFIX}{as_of.isoformat()}"


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.parquet") if not p.name.startswith((".", "_")))


def snapshot_files(snapshot_dir: Path, as_of: date) -> list[Path]:
    """The Parquet files of one snapshot's account rows (``ACCOUNT_STATE_SCHEMA``; both
    engines' layouts)."""
    return _parquet_files(snapshot_path(snapshot_dir, as_of) / "accounts")


def snapshot_item_files(snapshot_dir: Path, as_of: date) -> list[Path]:
    """The Parquet files of one snapshot's item rows (``ITEM_ROW_SCHEMA``: ``account_id``,
    ``as_of`` and one item ledger's state); every reader of item states reads these."""
    return _parquet_files(snapshot_path(snapshot_dir, as_of) / "items")


def snapshot_format(snapshot_dir: Path, as_of: date) -> str:
    """The ``format`` its manifest gives the snapshot of ``as_of``."""
    manifest = snapshot_path(snapshot_dir, as_of) / "manifest.json"
    return str(json.loads(manifest.read_text()).get("format", ""))


def read_snapshot(snapshot_dir: Path, as_of: date) -> pa.Table:
    """The accounts of one snapshot, sorted by account id, with their item ledgers nested in
    ``items`` as the kernel gave them and their transitions (from ``transitions/``, in
    ``TRANSITION_ORDER``) in ``transitions`` (``SNAPSHOT_SCHEMA``; any format)."""
    files = snapshot_files(snapshot_dir, as_of)
    accounts = pq.read_table(files, schema=ACCOUNT_BASE_SCHEMA, partitioning=None)
    moves = _parquet_files(snapshot_path(snapshot_dir, as_of) / "transitions")
    transitions = pq.read_table(moves, schema=TRANSITION_ROW_SCHEMA, partitioning=None)
    return join_items(
        accounts.sort_by("account_id"), read_snapshot_items(snapshot_dir, as_of), transitions
    )


def read_snapshot_items(snapshot_dir: Path, as_of: date) -> pa.Table:
    """The item rows of one snapshot (``ITEM_ROW_SCHEMA``), in their stored order."""
    files = snapshot_item_files(snapshot_dir, as_of)
    if not files:
        return ITEM_ROW_SCHEMA.empty_table()
    return pq.read_table(files, schema=ITEM_ROW_SCHEMA, partitioning=None)


def _write_transitions(snapshot: Path) -> int:
    """``snapshot/transitions/part-0.parquet``: every transition row in ``TRANSITION_ORDER``.

    Each part's rows were written with its accounts (``TRANSITION_PARTS``), their order checked
    on the way (DuckDB): one part in key order (a rebuild's) is moved into place as it is."""
    out_dir, parts_dir = snapshot / "transitions", snapshot / TRANSITION_PARTS
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        parts = _parquet_files(parts_dir)
        if len(parts) == 1 and not (parts[0].parent / UNSORTED_MARK).exists():
            rows = pq.read_metadata(parts[0]).num_rows
            parts[0].rename(out_dir / "part-0.parquet")
            return int(rows)
        if parts:
            out = pq.read_table(parts, schema=TRANSITION_ROW_SCHEMA, partitioning=None)
        else:
            out = TRANSITION_ROW_SCHEMA.empty_table()
        if not in_key_order(out):  # the kernel's rows usually come in this order: no sort then
            out = out.sort_by(list(TRANSITION_ORDER))
        pq.write_table(out, out_dir / "part-0.parquet", **TRANSITION_WRITE)
        return out.num_rows
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)



def _publish(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp`` so that no reader ever sees a partial snapshot."""
    trash = final.with_name(f".trash-{final.name}-{uuid.uuid4().hex}")
    if final.exists():
        final.rename(trash)
    tmp.rename(final)
    shutil.rmtree(trash, ignore_errors=True)


# -- the run ------------------------------------------------------------------------------------


def run_eod(
    data_dir: Path,
    as_of: date,
    snapshot_dir: Path,
    *,
    engine: str = "duckdb",
    rebuild: bool = False,
    backend: Backend | None = None,
    handoff: AccountHandoff | None = None,
) -> EodResult:
    """Compute and publish the snapshot of ``as_of``; see the module docstring. ``handoff``
    keeps the account rows written (DuckDB), for a reader in the same process."""
    if not (data_dir / "accounts.parquet").is_file():
        raise EodError(f"{data_dir}: not a book (no accounts.parquet; see docs/data-contract.md)")
    backend = backend or make_backend(engine)
    earlier = [d for d in snapshot_dates(snapshot_dir) if d < as_of]
    previous = None if rebuild or not earlier else earlier[-1]
    policies = resolve_policies(data_dir)
    config = KernelConfig(as_of=as_of, previous=previous, policies=policies)
    snapshot_dir.mkdir(parents=True, exist_ok=True)
    tmp = snapshot_dir / f".tmp-{as_of.isoformat()}-{uuid.uuid4().hex}"
    result = EodResult(
        as_of=as_of.isoformat(),
        mode="rebuild" if previous is None else "incremental",
        engine=backend.name,
        previous=None if previous is None else previous.isoformat(),
        accounts=0,
    )
    try:
        _compute(backend, data_dir, snapshot_dir, config, tmp, result, handoff)
        started = time.perf_counter()
        result.transitions = _write_transitions(tmp)
        result.seconds["transitions"] = round(time.perf_counter() - started, 3)
        final = snapshot_path(snapshot_dir, as_of)
        result.snapshot = str(final)
        (tmp / "manifest.json").write_text(json.dumps(_manifest(result), indent=2) + "\n")
        _publish(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _manifest(result: EodResult) -> dict[str, Any]:
    data = asdict(result)
    data.pop("seconds")  # timings vary: keep the manifest identical across reruns
    data.pop("engine")
    return {"format": SNAPSHOT_FORMAT, **data}


def _part(snapshot: Path, name: str, handoff: AccountHandoff | None) -> SnapshotPart:
    """Where a part of the snapshot goes, its transition rows included."""
    return SnapshotPart.of(snapshot, name, transitions=True, handoff=handoff)


def _compute(
    backend: Backend,
    data_dir: Path,
    snapshot_dir: Path,
    config: KernelConfig,
    tmp: Path,
    result: EodResult,
    handoff: AccountHandoff | None,
) -> None:
    started = time.perf_counter()
    if config.previous is None:
        history = load_book(backend, data_dir, None, config.as_of)
        result.accounts = backend.rebuild_kernel(history, config, _part(tmp, "", handoff))
        result.replayed = result.accounts
        result.seconds["kernel"] = round(time.perf_counter() - started, 3)
        return
    found = snapshot_format(snapshot_dir, config.previous)
    if found not in RESUMABLE_FORMATS:
        raise EodError(
            f"{snapshot_path(snapshot_dir, config.previous)}: snapshot format {found!r} cannot "
            f"be resumed (this version writes {SNAPSHOT_FORMAT}); rebuild: overdue eod "
            f"{data_dir} --as-of {config.as_of} --out {snapshot_dir} --rebuild"
        )
    window = load_book(backend, data_dir, config.previous, config.as_of)
    prev_files = snapshot_files(snapshot_dir, config.previous)
    # the columns both formats have (format 2's account files lack the item summary)
    previous = backend.read_table(prev_files, ACCOUNT_BASE_SCHEMA, None)
    prev_items = backend.read_table(
        snapshot_item_files(snapshot_dir, config.previous), ITEM_ROW_SCHEMA, None
    )
    # evaluated once: it is counted, anti-joined by the resume and numbered by the replay
    replay = replay_accounts(window, previous, config.previous).cache()
    result.replayed = backend.count(replay)
    result.resumed = backend.resume_kernel(
        ResumeInputs(window, previous, prev_items, replay), config, _part(tmp, "resumed", handoff)
    )
    result.seconds["resume"] = round(time.perf_counter() - started, 3)
    if result.replayed:
        started = time.perf_counter()
        history = load_book(backend, data_dir, None, config.as_of)
        written = backend.rebuild_kernel(history, config, _part(tmp, "replayed", handoff), only=replay)
        result.replayed = written
        result.seconds["replay"] = round(time.perf_counter() - started, 3)
    result.accounts = result.resumed + result.replayed

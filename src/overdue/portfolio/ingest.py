"""Ingest: validate a folder of source tables against the data contract and write the book.

``ingest(src_dir, data_dir)`` reads ``<table>.csv`` or ``<table>.parquet`` for every contract
table, checks every row with vectorised Arrow kernels (types, required values, allowed values,
amounts, real dates, date order, references, keys, duplicates), and writes the accepted rows as a
book (``book_layout.write_book``, atomic) with the rejected rows in ``quarantine/<table>.csv`` and
the duplicates in ``quarantine/<table>.duplicates.csv``. Python loops run only over rejected and
duplicate rows (to word their messages). See ``docs/data-contract.md`` for the rules.

File-level problems (no file, empty file, missing or unknown columns, unreadable Parquet) stop
their table and the run: nothing is written. Row-level problems reject the row and the run goes on.
"""

from __future__ import annotations

import csv
import io
import shutil
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from overdue.portfolio import book_layout
from overdue.portfolio.contract import (
    MAX_YEAR,
    MIN_YEAR,
    TABLES,
    Column,
    TableSpec,
    known_presets,
)

MAX_EXAMPLES: Final = 20  # messages kept per table in the report (all of them are in quarantine)
MAX_POLICY_FILES: Final = 1000
MAX_ROWS_PER_TABLE: Final = 500_000_000
WHOLE_ROW: Final = "*"  # `_column` of a row that could not be split into the header's fields
META_COLUMNS: Final = ("_file", "_row", "_column", "_reason")
SOURCE_SUFFIXES: Final = (".csv", ".parquet")

Progress = book_layout.Progress
Reason = Callable[[str | None], str]  # original (trimmed) value → reason text "code: words"


class SourceFileError(Exception):
    """A problem with a whole source file; its table cannot be ingested."""

    def __init__(self, file: str, message: str) -> None:
        super().__init__(f"{file}: {message}")
        self.file = file


# ---------------------------------------------------------------- report


@dataclass
class TableReport:
    """Counts for one table. Invariant: accepted + rejected + duplicates == rows_read."""

    table: str
    file: str | None = None
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    file_error: str | None = None
    examples: list[str] = field(default_factory=list)

    def check(self) -> None:
        total = self.accepted + self.rejected + self.duplicates
        assert total == self.rows_read, f"{self.table}: {total} counted != {self.rows_read} read"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "file_error": self.file_error,
            "examples": list(self.examples),
        }


@dataclass
class IngestReport:
    source: str
    data_dir: str
    strict: bool
    tables: dict[str, TableReport]
    written: bool = False
    manifest: dict[str, Any] | None = None

    @property
    def file_errors(self) -> list[str]:
        return [t.file_error for t in self.tables.values() if t.file_error]

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tables.values())

    @property
    def exit_code(self) -> int:
        """0 done (rejections allowed), 2 file-level errors, 1 rejections under ``strict``."""
        if self.file_errors:
            return 2
        return 1 if self.strict and self.rejected else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "data_dir": self.data_dir,
            "written": self.written,
            "strict": self.strict,
            "exit_code": self.exit_code,
            "file_errors": self.file_errors,
            "tables": {name: t.to_json() for name, t in self.tables.items()},
            "manifest": self.manifest,
        }


# ---------------------------------------------------------------- entry point


def ingest(
    src_dir: Path,
    data_dir: Path,
    *,
    allow_extra_columns: bool = False,
    strict: bool = False,
    replace: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Validate ``src_dir`` and write the book to ``data_dir`` (see the module docstring).

    Nothing is written when a file-level error occurs, nor under ``strict`` when a row is
    rejected. Raises ``book_layout.BookLayoutError`` before any work if ``data_dir`` may not be
    written, and ``SourceFileError`` if ``src_dir`` is not a folder.
    """
    src_dir, data_dir = Path(src_dir), Path(data_dir)
    if not src_dir.is_dir():
        raise SourceFileError(str(src_dir), "is not a folder")
    _check_not_nested(src_dir, data_dir)
    book_layout.check_writable(data_dir, replace=replace)
    policies = _policy_files(src_dir)
    context = _Context(policy_names=_policy_names(policies))
    report = IngestReport(str(src_dir), str(data_dir), strict, tables={})
    results: dict[str, _TableResult] = {}
    for step, spec in enumerate(TABLES.values(), start=1):
        result = _ingest_table(src_dir, spec, context, allow_extra_columns)
        report.tables[spec.name] = result.report
        results[spec.name] = result
        if progress is not None:
            progress("validating", step, len(TABLES))
    if report.exit_code != 0:
        return report
    accepted = {name: r.accepted for name, r in results.items() if r.present}

    def extra(tmp_dir: Path) -> None:
        _write_quarantine(tmp_dir, results)
        _copy_policies(tmp_dir, policies)

    manifest = book_layout.write_book(
        data_dir,
        accepted,
        provenance={"source": str(src_dir.resolve())},
        replace=replace,
        extra=extra,
        progress=progress,
    )
    report.written = True
    report.manifest = manifest.to_json()
    return report


def _check_not_nested(src_dir: Path, data_dir: Path) -> None:
    src, out = src_dir.resolve(), data_dir.resolve()
    if src == out or src.is_relative_to(out):
        raise SourceFileError(
            str(src_dir), f"is inside the output {data_dir}; choose another --out"
        )


def _policy_files(src_dir: Path) -> list[Path]:
    folder = src_dir / book_layout.POLICIES_DIR
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.toml"))
    if len(files) > MAX_POLICY_FILES:
        raise SourceFileError(str(folder), f"has {len(files)} policy files (at most 1000)")
    return files


def _policy_names(files: Iterable[Path]) -> frozenset[str]:
    names = set(known_presets())
    for path in files:
        names |= {path.stem, path.name}
    return frozenset(names)


def _copy_policies(tmp_dir: Path, files: list[Path]) -> None:
    if not files:
        return
    target = tmp_dir / book_layout.POLICIES_DIR
    target.mkdir()
    for path in files:
        shutil.copy2(path, target / path.name)


# ---------------------------------------------------------------- one table


@dataclass
class _Context:
    """What later tables need from earlier ones: policy names and accepted keys."""

    policy_names: frozenset[str]
    keys: dict[str, pa.Array] = field(default_factory=dict)
    payment_accounts: pa.Table | None = None
    failed: set[str] = field(default_factory=set)  # tables with a file-level error


@dataclass
class _TableResult:
    report: TableReport
    present: bool = False
    accepted: pa.Table | None = None
    quarantine: pa.Table | None = None
    duplicates: pa.Table | None = None


@dataclass
class _Malformed:
    """A CSV record the parser could not split into the header's fields."""

    row: int
    values: dict[str, str]
    reason: str


@dataclass
class _Source:
    """One table as read: contract columns as original text, and where each row came from."""

    file: str
    text: pa.Table  # original values as strings (null where absent)
    rows: np.ndarray  # source row number (1-based data row, header = 0) of each text row
    bad_utf8: dict[str, np.ndarray] = field(default_factory=dict)
    malformed: list[_Malformed] = field(default_factory=list)


def _ingest_table(
    src_dir: Path, spec: TableSpec, context: _Context, allow_extra_columns: bool
) -> _TableResult:
    report = TableReport(spec.name)
    result = _TableResult(report)
    try:
        path = _find_source(src_dir, spec)
        if path is None:
            context.keys[spec.name] = pa.array([], pa.string())
            return result
        report.file = path.name
        source = _read_source(path, spec, allow_extra_columns)
    except SourceFileError as exc:
        report.file_error = str(exc)
        context.keys[spec.name] = pa.array([], pa.string())
        context.failed.add(spec.name)
        return result
    result.present = True
    _Validation(spec, source, context, result).run()
    report.check()
    return result


def _find_source(src_dir: Path, spec: TableSpec) -> Path | None:
    found = [src_dir / f"{spec.name}{suffix}" for suffix in SOURCE_SUFFIXES]
    found = [path for path in found if path.is_file()]
    if len(found) > 1:
        raise SourceFileError(found[0].name, f"both {found[0].name} and {found[1].name} exist")
    if not found:
        if spec.optional:
            return None
        raise SourceFileError(
            f"{spec.name}.csv", f"required table {spec.name} not found (.csv or .parquet)"
        )
    return found[0]


# ---------------------------------------------------------------- reading sources


def _read_source(path: Path, spec: TableSpec, allow_extra_columns: bool) -> _Source:
    if path.stat().st_size == 0:
        raise SourceFileError(
            path.name, "is empty (0 bytes); even a table without rows needs its header line"
        )
    if path.suffix == ".parquet":
        return _read_parquet(path, spec, allow_extra_columns)
    return _read_csv(path, spec, allow_extra_columns)


def _check_header(file: str, names: list[str], spec: TableSpec, allow_extra: bool) -> None:
    if any(not name for name in names):
        raise SourceFileError(file, "header has an empty column name")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SourceFileError(file, f"column {', '.join(repeated)} appears more than once")
    missing = [name for name in spec.required_columns if name not in names]
    if missing:
        raise SourceFileError(file, f"missing required column {', '.join(missing)}")
    extra = [name for name in names if name not in spec.column_names]
    if extra and not allow_extra:
        raise SourceFileError(
            file,
            f"unknown column {', '.join(extra)} (not in the contract for {spec.name}; "
            "pass --allow-extra-columns to ignore it)",
        )


def _read_csv(path: Path, spec: TableSpec, allow_extra: bool) -> _Source:
    data = path.read_bytes()
    header_line, _, body = data.partition(b"\n")
    try:
        header_text = header_line.decode("utf-8-sig").strip("\r")
    except UnicodeDecodeError:
        raise SourceFileError(path.name, "header line (row 0) is not valid UTF-8") from None
    names = [name.strip() for name in next(csv.reader([header_text]), [])]
    _check_header(path.name, names, spec, allow_extra)
    present = [name for name in spec.column_names if name in names]
    if not body.strip(b"\r\n"):
        return _Source(path.name, _text_table(spec, {}, 0), np.zeros(0, np.int64))
    malformed: list[_Malformed] = []
    table = _parse_csv_body(data, names, present, malformed)
    total = table.num_rows + len(malformed)
    assert total <= MAX_ROWS_PER_TABLE, f"{path.name}: {total} rows"
    parsed = np.ones(total, dtype=bool)  # records the parser split into fields
    parsed[np.array([m.row - 1 for m in malformed], dtype=np.int64)] = False
    rows = np.arange(1, total + 1, dtype=np.int64)[parsed]
    if len(rows) != table.num_rows:
        raise SourceFileError(path.name, "could not number the rows (unbalanced quotes?)")
    columns, bad_utf8 = {}, {}
    for name in present:
        columns[name], mask = _decode_utf8(table.column(name))
        if mask is not None:
            bad_utf8[name] = mask
    return _Source(path.name, _text_table(spec, columns, table.num_rows), rows, bad_utf8, malformed)


def _parse_csv_body(
    data: bytes, names: list[str], present: list[str], malformed: list[_Malformed]
) -> pa.Table:
    def on_invalid(row: Any) -> str:
        if row.number is None:
            raise SourceFileError("csv", "row numbers unavailable")
        fields = next(csv.reader([row.text.rstrip("\r\n")]), [])
        values = {n: v for n, v in zip(names, fields, strict=False) if n in present}
        reason = (
            f"bad_field_count: has {row.actual_columns} fields, the header has "
            f"{row.expected_columns}"
        )
        malformed.append(_Malformed(row.number - 1, values, reason))
        return "skip"

    return pa_csv.read_csv(
        pa.BufferReader(data),
        read_options=pa_csv.ReadOptions(use_threads=False, column_names=names, skip_rows=1),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=on_invalid, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.binary() for name in names},
            include_columns=present,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _decode_utf8(raw: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray | None]:
    """Binary → string. Invalid UTF-8 values are kept with their bytes escaped, and flagged."""
    raw_array = raw.combine_chunks()
    try:
        return raw_array.cast(pa.string()), None
    except pa.ArrowInvalid:
        pass
    values = raw_array.to_pylist()  # only for a column that has bad bytes
    mask = np.zeros(len(values), dtype=bool)
    decoded: list[str | None] = []
    for index, value in enumerate(values):
        if value is None:
            decoded.append(None)
            continue
        try:
            decoded.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            decoded.append(value.decode("utf-8", errors="backslashreplace"))
            mask[index] = True
    return pa.array(decoded, pa.string()), mask


_TEXT_SOURCE_TYPES: Final = ("string", "large_string", "string_view", "null")


def _read_parquet(path: Path, spec: TableSpec, allow_extra: bool) -> _Source:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise SourceFileError(path.name, f"is not a readable Parquet file ({exc})") from None
    _check_header(path.name, table.column_names, spec, allow_extra)
    assert table.num_rows <= MAX_ROWS_PER_TABLE, f"{path.name}: {table.num_rows} rows"
    columns, bad_utf8 = {}, {}
    for col in spec.columns:
        if col.name not in table.column_names:
            continue
        array = table.column(col.name)
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type):
            columns[col.name], mask = _decode_utf8(array.cast(pa.binary()))
            if mask is not None:
                bad_utf8[col.name] = mask
            continue
        if not _parquet_type_fits(col, array.type):
            raise SourceFileError(
                path.name, f"column {col.name} has type {array.type}; expected {col.arrow_type}"
            )
        columns[col.name] = array.cast(pa.string()).combine_chunks()
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    return _Source(path.name, _text_table(spec, columns, table.num_rows), rows, bad_utf8)


def _parquet_type_fits(col: Column, dtype: pa.DataType) -> bool:
    if str(dtype) in _TEXT_SOURCE_TYPES:
        return True
    if col.kind in ("fen", "int"):
        return bool(pa.types.is_integer(dtype))
    if col.kind == "date":
        return bool(pa.types.is_date(dtype))
    if col.kind == "decimal":
        return bool(pa.types.is_decimal(dtype))
    return False


def _text_table(spec: TableSpec, columns: Mapping[str, pa.Array], num_rows: int) -> pa.Table:
    arrays = [columns.get(name, pa.nulls(num_rows, pa.string())) for name in spec.column_names]
    return pa.table(arrays, names=list(spec.column_names))


# ---------------------------------------------------------------- validating


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow boolean (nulls count as False) → numpy bool array."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _clean(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Trim surrounding spaces; an empty value is a missing value (null)."""
    trimmed = pc.utf8_trim_whitespace(text)
    array = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


_DAYS_IN_MONTH: Final = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_TIME_ZONES: Final = pa.array(sorted(zoneinfo.available_timezones()), pa.string())


class _Validation:
    """Runs the checks of one table, in stages; a row rejected in a stage skips later stages."""

    def __init__(
        self, spec: TableSpec, source: _Source, context: _Context, result: _TableResult
    ) -> None:
        self.spec, self.source, self.context, self.result = spec, source, context, result
        text = source.text
        self.text = text
        self.values = {name: _clean(text.column(name)) for name in spec.column_names}
        self.typed: dict[str, pa.Array] = {}
        self.rows = source.rows
        self.errors: dict[int, list[tuple[str, str]]] = {}
        self.duplicate_of: dict[int, str] = {}
        self.alive = np.ones(text.num_rows, dtype=bool)
        self.keep = np.ones(text.num_rows, dtype=bool)  # not a blank row

    # -- bookkeeping

    def reject(self, mask: np.ndarray, column: str, reason: Reason) -> None:
        indices = np.flatnonzero(mask)
        if len(indices) == 0:
            return
        values = self.values[column].take(pa.array(indices)).to_pylist()
        for index, value in zip(indices.tolist(), values, strict=True):
            self.errors.setdefault(index, []).append((column, reason(value)))

    def end_stage(self) -> None:
        if self.errors:
            rejected = np.fromiter(self.errors.keys(), dtype=np.int64, count=len(self.errors))
            self.alive[rejected] = False
        self.alive[np.fromiter(self.duplicate_of.keys(), dtype=np.int64)] = False

    # -- stages

    def run(self) -> None:
        self._drop_blank_rows()
        for column, mask in self.source.bad_utf8.items():
            self.reject(
                mask[self.keep], column, lambda v: f"bad_utf8: value is not valid UTF-8 ({v})"
            )
        for col in self.spec.columns:
            self._check_column(col)
        self._check_row_rules()
        self.end_stage()
        self._check_references()
        self.end_stage()
        if self.spec.partitioned:
            self._check_entry_seq()
            self.end_stage()
        self._check_keys()
        self.end_stage()
        if self.spec.name == "reversals":
            self._check_one_reversal_per_payment()
            self.end_stage()
        self._finish()

    def _drop_blank_rows(self) -> None:
        blank = np.ones(self.text.num_rows, dtype=bool)
        for name in self.spec.column_names:
            blank &= _np(pc.is_null(self.values[name]))
        self.keep = ~blank
        if blank.any():
            keep_idx = np.flatnonzero(self.keep)
            self.text = self.text.take(keep_idx)
            self.values = {name: v.take(keep_idx) for name, v in self.values.items()}
            self.rows = self.rows[keep_idx]
            self.alive = self.alive[keep_idx]

    def _check_column(self, col: Column) -> None:
        values = self.values[col.name]
        missing = _np(pc.is_null(values))
        if not col.nullable:
            self.reject(missing, col.name, _fixed("missing_value: required value is empty"))
        present = ~missing
        checker = _COLUMN_CHECKS[col.kind]
        typed = checker(self, col, values, present)
        self.typed[col.name] = typed
        if col.max_chars is not None:
            lengths = pc.utf8_length(values)
            too_long = _np(pc.greater(lengths, col.max_chars))
            self.reject(
                too_long,
                col.name,
                lambda v: f"too_long: {len(v or '')} characters (at most {col.max_chars})",
            )

    def _check_row_rules(self) -> None:
        for rule in self.spec.date_orders:
            earlier, later = self.typed[rule.earlier], self.typed[rule.later]
            wrong = _np(pc.less(later, earlier))
            blame = "entry_date" if "entry_date" in (rule.earlier, rule.later) else rule.later
            for index in np.flatnonzero(wrong).tolist():
                early = f"{rule.earlier} {earlier[index]}"
                late = f"{rule.later} {later[index]}"
                if blame == rule.later:
                    message = f"date_order: {late} is before {early}"
                else:
                    message = f"date_order: {early} is after {late}"
                self.errors.setdefault(index, []).append((blame, message))
        for req in self.spec.required_when:
            applies = _np(pc.equal(self.values[req.when_column], req.when_value))
            missing = applies & _np(pc.is_null(self.values[req.column]))
            reason = (
                f"required_for_product: {req.column} is required when "
                f"{req.when_column} is {req.when_value}"
            )
            self.reject(missing, req.column, _fixed(reason))
        if "policy" in self.values:
            names = pa.array(sorted(self.context.policy_names), pa.string())
            unknown = _np(pc.invert(pc.is_in(self.values["policy"], value_set=names)))
            unknown &= _np(pc.is_valid(self.values["policy"]))
            presets = ", ".join(known_presets())
            self.reject(
                unknown,
                "policy",
                lambda v: (
                    f"unknown_policy: {v!r} is not a preset ({presets}) and there is no "
                    f"policies/{v}.toml"
                ),
            )

    def _check_references(self) -> None:
        for col in self.spec.columns:
            if col.references is None:
                continue
            parent = col.references.split(".")[0]
            if parent in self.context.failed:
                continue  # its file could not be read: the run stops anyway, say nothing here
            known = self.context.keys[parent]
            unknown = self.alive & ~_np(pc.is_in(self.typed[col.name], value_set=known))
            self.reject(unknown, col.name, _unknown_reference(col.name, parent))
        if self.spec.name == "reversals" and "payments" not in self.context.failed:
            self._check_reversal_accounts()

    def _check_reversal_accounts(self) -> None:
        payments = self.context.payment_accounts
        assert payments is not None, "payments are validated before reversals"
        where = pc.index_in(self.typed["payment_id"], value_set=payments.column("payment_id"))
        owner = payments.column("account_id").combine_chunks().take(where)
        wrong = self.alive & _np(pc.not_equal(owner, self.typed["account_id"]))
        for index in np.flatnonzero(wrong).tolist():
            message = (
                f"account_mismatch: payment {self.typed['payment_id'][index]} belongs to "
                f"account {owner[index]}, not {self.typed['account_id'][index]}"
            )
            self.errors.setdefault(index, []).append(("account_id", message))

    def _check_entry_seq(self) -> None:
        """entry_seq orders the table: two different keys may not share one."""
        alive_idx = np.flatnonzero(self.alive)
        seqs = self.typed["entry_seq"].take(alive_idx)
        keys = self.typed[self.spec.key].take(alive_idx)
        owner = _first_of_group(seqs, [pa.array(self.rows[alive_idx])])
        clash = _np(pc.not_equal(keys, keys.take(owner)))
        for pos in np.flatnonzero(clash).tolist():
            first = int(owner[pos])
            message = (
                f"entry_seq_taken: entry_seq {seqs[pos]} is already used by "
                f"{self.spec.key} {keys[first]} (row {self.rows[alive_idx[first]]})"
            )
            self.errors.setdefault(int(alive_idx[pos]), []).append(("entry_seq", message))

    def _check_keys(self) -> None:
        """Same key twice: a duplicate if idempotent or identical, otherwise a conflict."""
        alive_idx = np.flatnonzero(self.alive)
        key = self.spec.key
        keys = self.typed[key].take(alive_idx)
        order = [pa.array(self.rows[alive_idx])]
        if self.spec.partitioned:
            order.insert(0, self.typed["entry_seq"].take(alive_idx))
        first = _first_of_group(keys, order)
        later = np.flatnonzero(first != np.arange(len(first)))
        if len(later) == 0:
            return
        differs = self._differing_columns(alive_idx[later], alive_idx[first[later]])
        for pos, diff in zip(later.tolist(), differs, strict=True):
            index, kept = int(alive_idx[pos]), int(alive_idx[first[pos]])
            same = f"same {key} {keys[pos]} as row {self.rows[kept]}"
            if not diff or self.spec.duplicates == "idempotent":
                note = f"; differs in {', '.join(diff)}" if diff else ""
                self.duplicate_of[index] = f"duplicate: {same}, which is kept{note}"
            else:
                message = f"key_conflict: {same} but different {', '.join(diff)}"
                self.errors.setdefault(index, []).append((key, message))

    def _differing_columns(self, rows: np.ndarray, firsts: np.ndarray) -> list[list[str]]:
        names = [n for n in self.spec.column_names if n not in ("entry_seq", self.spec.key)]
        differs = np.zeros((len(names), len(rows)), dtype=bool)
        for pos, name in enumerate(names):
            a, b = self.typed[name].take(rows), self.typed[name].take(firsts)
            same = _np(pc.equal(a, b)) | (_np(pc.is_null(a)) & _np(pc.is_null(b)))
            differs[pos] = ~same
        return [[names[p] for p in np.flatnonzero(differs[:, i])] for i in range(len(rows))]

    def _check_one_reversal_per_payment(self) -> None:
        alive_idx = np.flatnonzero(self.alive)
        payments = self.typed["payment_id"].take(alive_idx)
        order = [self.typed["entry_seq"].take(alive_idx), pa.array(self.rows[alive_idx])]
        first = _first_of_group(payments, order)
        for pos in np.flatnonzero(first != np.arange(len(first))).tolist():
            kept = int(alive_idx[first[pos]])
            message = (
                f"already_reversed: payment {payments[pos]} is already reversed by "
                f"{self.typed['reversal_id'][kept]} (row {self.rows[kept]})"
            )
            self.errors.setdefault(int(alive_idx[pos]), []).append(("payment_id", message))

    # -- results

    def _finish(self) -> None:
        spec, report = self.spec, self.result.report
        accepted_idx = np.flatnonzero(self.alive)
        columns = [self.typed[name].take(accepted_idx) for name in spec.column_names]
        accepted = pa.Table.from_arrays(columns, schema=spec.arrow_schema())
        self.result.accepted = accepted
        self.context.keys[spec.name] = accepted.column(spec.key).combine_chunks()
        if spec.name == "payments":
            self.context.payment_accounts = accepted.select(["payment_id", "account_id"])
        report.rows_read = self.text.num_rows + len(self.source.malformed)
        report.accepted = accepted.num_rows
        report.rejected = len(self.errors) + len(self.source.malformed)
        report.duplicates = len(self.duplicate_of)
        rejected = {i: _join(errs) for i, errs in self.errors.items()}
        self.result.quarantine = self._meta_table(rejected, self.source.malformed)
        self.result.duplicates = self._meta_table(
            {i: (spec.key, reason) for i, reason in self.duplicate_of.items()}, []
        )
        report.examples = _messages(self.result.quarantine, MAX_EXAMPLES)

    def _meta_table(
        self, entries: Mapping[int, tuple[str, str]], malformed: list[_Malformed]
    ) -> pa.Table:
        order = sorted(entries)
        index = np.array(order, dtype=np.int64)
        part = self.text.take(index)
        meta = {
            "_file": pa.array([self.source.file] * len(order), pa.string()),
            "_row": pa.array(self.rows[index], pa.int64()),
            "_column": pa.array([entries[i][0] for i in order], pa.string()),
            "_reason": pa.array([entries[i][1] for i in order], pa.string()),
        }
        table = pa.table({**{n: part.column(n) for n in part.column_names}, **meta})
        if malformed:
            extra = pa.table(
                {
                    **{n: [m.values.get(n) for m in malformed] for n in self.spec.column_names},
                    "_file": [self.source.file] * len(malformed),
                    "_row": pa.array([m.row for m in malformed], pa.int64()),
                    "_column": [WHOLE_ROW] * len(malformed),
                    "_reason": [m.reason for m in malformed],
                },
                schema=table.schema,
            )
            table = pa.concat_tables([table, extra]).sort_by("_row")
        return table


def _fixed(reason: str) -> Reason:
    return lambda value: reason


def _unknown_reference(column: str, parent: str) -> Reason:
    return lambda value: f"unknown_reference: {column} {value!r} is not in {parent}"


def _join(errors: list[tuple[str, str]]) -> tuple[str, str]:
    columns = list(dict.fromkeys(column for column, _ in errors))
    return "|".join(columns), " | ".join(reason for _, reason in errors)


def message(file: str, row: int, column: str, reason: str) -> str:
    """The one-line form of a row error: file, row, column and reason."""
    return f"{file} row {row}, column {column}: {reason}"


def _messages(quarantine: pa.Table, limit: int) -> list[str]:
    head = quarantine.slice(0, limit).select(list(META_COLUMNS)).to_pylist()
    return [message(r["_file"], r["_row"], r["_column"], r["_reason"]) for r in head]


def _first_of_group(keys: pa.Array, order: list[pa.Array]) -> np.ndarray:
    """For every row, the position of the first row (by ``order``) with the same key."""
    count = len(keys)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    columns = {"key": keys, **{f"order{i}": o for i, o in enumerate(order)}}
    table = pa.table(columns)
    sort_keys = [(name, "ascending") for name in table.column_names]
    idx = np.asarray(pc.sort_indices(table, sort_keys=sort_keys).to_numpy(), dtype=np.int64)
    sorted_keys = table.column("key").combine_chunks().take(pa.array(idx))
    starts = np.ones(count, dtype=bool)
    if count > 1:
        starts[1:] = _np(pc.not_equal(sorted_keys[1:], sorted_keys[:-1]))
    start_pos = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
    first = np.empty(count, dtype=np.int64)
    first[idx] = idx[start_pos]
    return first


# ---------------------------------------------------------------- column checks by kind


def _check_text(v: _Validation, col: Column, values: pa.Array, present: np.ndarray) -> pa.Array:
    return values


def _check_enum(v: _Validation, col: Column, values: pa.Array, present: np.ndarray) -> pa.Array:
    allowed = pa.array(col.allowed, pa.string())
    wrong = present & ~_np(pc.is_in(values, value_set=allowed))
    choices = ", ".join(col.allowed)
    v.reject(wrong, col.name, lambda x: f"not_allowed: {x!r} is not one of {choices}")
    return values


def _check_time_zone(
    v: _Validation, col: Column, values: pa.Array, present: np.ndarray
) -> pa.Array:
    wrong = present & ~_np(pc.is_in(values, value_set=_TIME_ZONES))
    v.reject(wrong, col.name, lambda x: f"bad_time_zone: {x!r} is not an IANA time zone")
    return values


def _check_decimal(v: _Validation, col: Column, values: pa.Array, present: np.ndarray) -> pa.Array:
    fraction = r"^(0(\.[0-9]{1,12})?|1(\.0{1,12})?|\.[0-9]{1,12})$"
    wrong = present & ~_np(pc.match_substring_regex(values, fraction))
    v.reject(
        wrong,
        col.name,
        lambda x: f"bad_rate: {x!r} is not a decimal fraction between 0 and 1 (0.146 = 14.6 %)",
    )
    return values


def _check_integer(v: _Validation, col: Column, values: pa.Array, present: np.ndarray) -> pa.Array:
    ok = _np(pc.match_substring_regex(values, r"^-?[0-9]{1,18}$"))
    what = "a whole number of fen" if col.kind == "fen" else "a whole number"
    v.reject(present & ~ok, col.name, lambda x: f"not_integer: {x!r} is not {what}")
    typed = pc.if_else(pa.array(ok), values, pa.scalar(None, pa.string())).cast(pa.int64())
    if col.min_value is not None:
        low = _np(pc.less(typed, col.min_value))
        v.reject(low, col.name, _below_minimum(col))
    return typed


def _below_minimum(col: Column) -> Reason:
    if col.kind == "fen" and col.min_value == 0:
        return lambda x: f"negative: {x} is negative; amounts are integer fen ≥ 0"
    if col.kind == "fen":
        return lambda x: f"not_positive: {x} must be > 0 fen"
    return lambda x: f"too_small: {x} is below the minimum {col.min_value}"


def _check_date(v: _Validation, col: Column, values: pa.Array, present: np.ndarray) -> pa.Array:
    shaped = _np(pc.match_substring_regex(values, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
    v.reject(present & ~shaped, col.name, lambda x: f"bad_date: {x!r} is not a YYYY-MM-DD date")
    digits = pc.if_else(pa.array(shaped), values, pa.scalar(None, pa.string()))
    year, month, day = (_date_part(digits, start) for start in (0, 5, 8))
    in_years = (year >= MIN_YEAR) & (year <= MAX_YEAR)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    last_day = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    real = month_ok & (day >= 1) & (day <= last_day)
    v.reject(shaped & ~real, col.name, lambda x: f"bad_date: {x!r} is not a real calendar date")
    v.reject(
        shaped & real & ~in_years,
        col.name,
        lambda x: f"bad_date: {x!r} is outside the years {MIN_YEAR}–{MAX_YEAR}",
    )
    good = pa.array(shaped & real & in_years)
    return pc.if_else(good, values, pa.scalar(None, pa.string())).cast(pa.date32())


def _date_part(digits: pa.Array, start: int) -> np.ndarray:
    """Year (start 0), month (5) or day (8) of YYYY-MM-DD strings as ints; 0 where null."""
    stop = start + 4 if start == 0 else start + 2
    part = pc.cast(pc.utf8_slice_codeunits(digits, start, stop), pa.int32())
    return np.asarray(pc.fill_null(part, 0).to_numpy(zero_copy_only=False), dtype=np.int64)


_COLUMN_CHECKS: Final[
    dict[str, Callable[[_Validation, Column, pa.Array, np.ndarray], pa.Array]]
] = {
    "id": _check_text,
    "text": _check_text,
    "enum": _check_enum,
    "time_zone": _check_time_zone,
    "decimal": _check_decimal,
    "fen": _check_integer,
    "int": _check_integer,
    "date": _check_date,
}


# ---------------------------------------------------------------- quarantine


def _write_quarantine(root: Path, results: Mapping[str, _TableResult]) -> None:
    folder = root / book_layout.QUARANTINE_DIR
    for name, result in results.items():
        for suffix, table in (("csv", result.quarantine), ("duplicates.csv", result.duplicates)):
            if table is None or table.num_rows == 0:
                continue
            folder.mkdir(exist_ok=True)
            _write_csv(folder / f"{name}.{suffix}", table)


def _write_csv(path: Path, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer)
    path.write_bytes(buffer.getvalue())


def read_quarantine(
    data_dir: Path, table: str, *, duplicates: bool = False
) -> list[dict[str, str]]:
    """Rows of ``quarantine/<table>.csv`` (or ``.duplicates.csv``) as dicts of text; [] if none."""
    suffix = "duplicates.csv" if duplicates else "csv"
    path = Path(data_dir) / book_layout.QUARANTINE_DIR / f"{table}.{suffix}"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))

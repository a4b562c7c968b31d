"""Monitoring panels: one row per (account, period) with a state and an optional weight.

A panel is what the monitoring measures (roll rates, flow and cure rates, vintages) read. It comes
from a CSV or Parquet file, or from such a file inside a zip archive (read through ``zipfile``, never
extracted), or from any ``ibis.Table`` (DuckDB by default, PySpark for large books).

``Panel.from_table`` validates the input once and exposes a standard table with the columns

- ``account_id``   the account key, as given;
- ``period_index`` an int64: the period itself for integer periods (so t - 1 is one less), or a month
  number (year * 12 + month - 1) for dates, timestamps and ``YYYY-MM`` / ``YYYY-MM-DD`` strings;
- ``state``        the state as text (states are always compared as strings);
- ``weight``       the weight column (numeric, >= 0), or 1 per row when none is named;
- ``line``         where the row came from in the file (for error messages), or null.

Every problem is reported as one ``PanelError`` line naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

LINE_COLUMN = "__line"
MAX_MEMBER_BYTES = 4 * 1024**3
"""Largest zip member read into memory (4 GiB uncompressed)."""
MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])(-[0-9]{2})?$"
CSV_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


class PanelError(ValueError):
    """Input the user must fix; the message is one line naming the file, row, column and reason."""


class PeriodKind(Enum):
    """How the period column counts: integers (t - 1 is one less) or calendar months."""

    INTEGER = "integer"
    MONTH = "month"


@dataclass(frozen=True)
class PanelSpec:
    """Which columns of the input hold the account id, the period, the state and the weight."""

    id_col: str
    period_col: str
    state_col: str
    weight_col: str | None = None

    def columns(self) -> tuple[str, ...]:
        named = (self.id_col, self.period_col, self.state_col, self.weight_col)
        return tuple(dict.fromkeys(c for c in named if c is not None))


@dataclass(frozen=True)
class Panel:
    """A validated panel: ``table`` has account_id, period_index, state, weight, line."""

    table: ir.Table
    period_kind: PeriodKind
    source: str
    spec: PanelSpec
    row_word: str = "row"

    @property
    def weighted(self) -> bool:
        return self.spec.weight_col is not None

    def period_label(self, period_index: int) -> str:
        """The period as the user wrote it: the integer, or ``YYYY-MM`` for months."""
        if self.period_kind is PeriodKind.INTEGER:
            return str(period_index)
        year, month0 = divmod(period_index, 12)
        return f"{year:04d}-{month0 + 1:02d}"

    def where(self, line: Any) -> str:
        return "" if line is None else f" {self.row_word} {line}:"

    @classmethod
    def from_table(
        cls, table: ir.Table, spec: PanelSpec, *, source: str = "panel", row_word: str = "row"
    ) -> Panel:
        """Validate ``table`` against ``spec`` and build the standard panel (raises PanelError)."""
        return _standardize(table, spec, source, row_word)


# ---------------------------------------------------------------------------------------------
# Reading files


def load_panel(path: Path, spec: PanelSpec) -> Panel:
    """Read a CSV/Parquet file (or one inside a zip) and validate it as a panel."""
    # ids and states are read as text from CSV: "007" stays "007", "1" and "01" stay apart
    text_columns = (spec.id_col, spec.state_col)
    arrow, row_word = read_arrow(path, spec.columns(), text_columns=text_columns)
    first_line = 2 if row_word == "line" else 1  # CSV: line 1 is the header
    lines = pa.array(np.arange(first_line, first_line + arrow.num_rows, dtype=np.int64))
    table = ibis.memtable(arrow.append_column(LINE_COLUMN, lines))
    return Panel.from_table(table, spec, source=str(path), row_word=row_word)


def read_arrow(
    path: Path, columns: Sequence[str], *, text_columns: Sequence[str] = ()
) -> tuple[pa.Table, str]:
    """Read ``columns`` of a CSV or Parquet file, possibly inside a zip, as an Arrow table.

    Returns the table and the word for its rows in messages ("line" for CSV, "row" for Parquet).
    ``text_columns`` are read as text whatever they look like.
    """
    if not path.is_file():
        raise PanelError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return _read_zip(path, columns, text_columns)
    if suffix in CSV_SUFFIXES:
        return _read_csv(path.read_bytes(), str(path), columns, text_columns), "line"
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path, str(path), columns), "row"
    raise PanelError(f"{path}: unsupported file type {suffix!r} (use .csv, .parquet or .zip)")


def _read_zip(
    path: Path, columns: Sequence[str], text_columns: Sequence[str]
) -> tuple[pa.Table, str]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise PanelError(f"{path}: not a readable zip file ({exc})") from None
    with archive:
        members = [
            info
            for info in archive.infolist()
            if not info.is_dir()
            and not info.filename.startswith("__MACOSX/")
            and info.filename.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)
        ]
        if len(members) != 1:
            names = ", ".join(m.filename for m in members) or "none"
            raise PanelError(f"{path}: expected one CSV or Parquet file inside, found {names}")
        member = members[0]
        source = f"{path}!{member.filename}"
        if member.file_size > MAX_MEMBER_BYTES:
            raise PanelError(f"{source}: {member.file_size} bytes is over the limit")
        data = archive.read(member)
    if member.filename.lower().endswith(CSV_SUFFIXES):
        return _read_csv(data, source, columns, text_columns), "line"
    return _read_parquet(io.BytesIO(data), source, columns), "row"


def _read_csv(
    data: bytes, source: str, columns: Sequence[str], text_columns: Sequence[str]
) -> pa.Table:
    if not data.strip():
        raise PanelError(f"{source}: the file is empty")
    header_line = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    header = next(csv.reader([header_line]))
    _require_columns(header, columns, source)
    options = pacsv.ConvertOptions(
        include_columns=list(columns),
        column_types={c: pa.string() for c in text_columns},
        strings_can_be_null=True,
    )
    try:
        table = pacsv.read_csv(io.BytesIO(data), convert_options=options)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        reason = " ".join(str(exc).split())
        raise PanelError(f"{source}: cannot read the CSV: {reason}") from None
    return _require_rows(table, source)


def _read_parquet(where: Path | io.BytesIO, source: str, columns: Sequence[str]) -> pa.Table:
    try:
        schema = pq.read_schema(where)
        _require_columns(schema.names, columns, source)
        table = pq.read_table(where, columns=list(columns))
    except (pa.ArrowInvalid, OSError) as exc:
        reason = " ".join(str(exc).split())
        raise PanelError(f"{source}: cannot read the Parquet file: {reason}") from None
    return _require_rows(table, source)


def _require_columns(present: Sequence[str], wanted: Sequence[str], source: str) -> None:
    for name in wanted:
        if name not in present:
            shown = ", ".join(present[:20]) + (" ..." if len(present) > 20 else "")
            raise PanelError(f"{source}: column {name!r} not found (columns: {shown})")


def _require_rows(table: pa.Table, source: str) -> pa.Table:
    if table.num_rows == 0:
        raise PanelError(f"{source}: no data rows")
    return table


# ---------------------------------------------------------------------------------------------
# Validation and standard columns


def _standardize(table: ir.Table, spec: PanelSpec, source: str, row_word: str) -> Panel:
    _require_columns(list(table.columns), spec.columns(), source)
    period_kind, period_index, period_ok = _period_expr(table, spec, source)
    weight = _weight_expr(table, spec, source)
    line = table[LINE_COLUMN] if LINE_COLUMN in table.columns else ibis.null("int64")
    raw_state = table[spec.state_col]
    state = raw_state if raw_state.type().is_string() else raw_state.cast("string")
    std = table.select(
        account_id=table[spec.id_col],
        period_index=period_index,
        state=state,
        weight=weight,
        line=line,
        period_ok=period_ok,
    )
    panel = Panel(std.drop("period_ok"), period_kind, source, spec, row_word)
    _check_rows(std, panel)
    _check_duplicates(panel)
    return panel


def _period_expr(
    table: ir.Table, spec: PanelSpec, source: str
) -> tuple[PeriodKind, ir.IntegerValue, ir.BooleanValue]:
    column = table[spec.period_col]
    dtype = column.type()
    if dtype.is_integer():
        return PeriodKind.INTEGER, column.cast("int64"), column.notnull()
    if dtype.is_date() or dtype.is_timestamp():
        index = column.year().cast("int64") * 12 + column.month().cast("int64") - 1
        return PeriodKind.MONTH, index, column.notnull()
    if dtype.is_string():
        text = column.strip()
        year = text.substr(0, 4).try_cast("int64")
        month = text.substr(5, 2).try_cast("int64")
        ok = text.re_search(MONTH_PATTERN).fill_null(False)
        return PeriodKind.MONTH, year * 12 + month - 1, ok
    raise PanelError(
        f"{source}: column {spec.period_col!r} must hold integers or months "
        f"(dates or 'YYYY-MM'), found {dtype}"
    )


def _weight_expr(table: ir.Table, spec: PanelSpec, source: str) -> ir.NumericValue:
    if spec.weight_col is None:
        return ibis.literal(1, "int64")
    column = table[spec.weight_col]
    dtype = column.type()
    if not (dtype.is_integer() or dtype.is_floating() or dtype.is_decimal()):
        raise PanelError(f"{source}: column {spec.weight_col!r} must be numeric, found {dtype}")
    return column


def _check_rows(std: ir.Table, panel: Panel) -> None:
    """Raise PanelError for the first row (in file order) with a missing or invalid value."""
    spec = panel.spec
    checks: list[tuple[ir.BooleanValue, str]] = [
        (std.account_id.isnull(), f"column {spec.id_col!r} is empty"),
        (~std.period_ok, f"column {spec.period_col!r} is not a period"),
        (std.state.isnull(), f"column {spec.state_col!r} is empty"),
    ]
    if spec.weight_col is not None:
        checks.append((std.weight.isnull(), f"column {spec.weight_col!r} is empty"))
        if std.weight.type().is_floating():
            checks.append((std.weight.isnan(), f"column {spec.weight_col!r} is NaN"))
        checks.append((std.weight < 0, f"column {spec.weight_col!r} is negative"))
    problem = ibis.cases(*[(cond.fill_null(False), reason) for cond, reason in checks])
    raw = std.select(line=std.line, problem=problem)
    first = raw.filter(raw.problem.notnull()).order_by("line").limit(1).to_pyarrow().to_pylist()
    if first:
        row = first[0]
        raise PanelError(f"{panel.source}:{panel.where(row['line'])} {row['problem']}")


def _check_duplicates(panel: Panel) -> None:
    """Raise PanelError naming the first duplicated (id, period) in file order."""
    std = panel.table
    groups = std.group_by(["account_id", "period_index"]).agg(
        rows=std.count(), first_line=std.line.min(), last_line=std.line.max()
    )
    dup = groups.filter(groups.rows > 1).order_by(["first_line", "account_id", "period_index"])
    found = dup.limit(1).to_pyarrow().to_pylist()
    if not found:
        return
    row = found[0]
    spec = panel.spec
    key = (
        f"{spec.id_col}={row['account_id']}, "
        f"{spec.period_col}={panel.period_label(row['period_index'])}"
    )
    where = ""
    if row["first_line"] is not None:
        where = f" at {panel.row_word}s {row['first_line']} and {row['last_line']}"
        if row["rows"] > 2:
            where += f" ({row['rows']} rows)"
    raise PanelError(f"{panel.source}: duplicate rows for ({key}){where}")


def execute_rows(expr: ir.Table) -> list[dict[str, Any]]:
    """Run an Ibis expression on its backend and return its rows as dicts."""
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows

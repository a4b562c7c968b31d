"""Agency placement files out (xlsx and csv) and agency results in (contacts and payments).

Placement: one row per placed account. Personal data is masked except what the agency needs to
reach the debtor (name and phone by default); amounts are in yuan with 2 decimals, converted
exactly from integer fen; each row carries the debtor's remaining contact allowance for the day
(``remaining_daily_contacts`` — and any other ``remaining_*`` column given), which the agency must
respect because the caps count the lender and all agencies together.

Results: the agency reports its contacts (``contacts`` sheet or CSV) and the payments it
collected (``payments`` sheet or CSV). Each row is validated; a bad row becomes a
:class:`RowError` (file, row, column, reason) and is left out, the rest are returned as Arrow
tables — contacts in the shape ``overdue.compliance.history.ContactHistory.record`` takes (with
``source`` = the agency), so the gate's audit can count them against the caps.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
from openpyxl import Workbook, load_workbook

from overdue.cases.masking import mask_address, mask_email, mask_id_number, mask_phone
from overdue.contact.adapters.base import CHANNELS

MAX_PLACEMENT_ROWS = 1_000_000
MAX_RESULT_ROWS = 1_000_000
MAX_ERRORS = 10_000
CENT = Decimal("0.01")
PLACEMENT_REQUIRED = ("account_id", "customer_id", "name", "phone", "total_overdue_fen", "dpd",
                      "remaining_daily_contacts")
PLACEMENT_OPTIONAL = ("product", "bucket_cn", "language", "time_zone", "email", "address",
                      "id_number")
MASKERS: dict[str, Callable[[str | None], str | None]] = {
    "phone": mask_phone,
    "email": mask_email,
    "address": mask_address,
    "id_number": mask_id_number,
}
DEFAULT_UNMASKED = ("name", "phone")
CONTACT_COLUMNS = ("account_id", "customer_id", "channel", "to_address", "attempted_at",
                   "time_zone", "connected")
PAYMENT_COLUMNS = ("payment_id", "account_id", "amount_yuan", "value_date")
CONTACT_SCHEMA = pa.schema([
    ("contact_id", pa.string()),
    ("customer_id", pa.string()),
    ("account_id", pa.string()),
    ("channel", pa.string()),
    ("to_address", pa.string()),
    ("recipient_kind", pa.string()),
    ("attempted_at_utc", pa.timestamp("us", tz="UTC")),
    ("time_zone", pa.string()),
    ("source", pa.string()),
    ("connected", pa.bool_()),
    ("right_party", pa.bool_()),
    ("conversation", pa.bool_()),
    ("outcome", pa.string()),
])
PAYMENT_SCHEMA = pa.schema([
    ("payment_id", pa.string()),
    ("account_id", pa.string()),
    ("amount_fen", pa.int64()),
    ("value_date", pa.date32()),
    ("source", pa.string()),
])
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "是", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "否", "f", ""})


@dataclass(frozen=True)
class RowError:
    file: str
    row: int  # spreadsheet row number: the header is row 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: row {self.row}: {self.column}: {self.reason}"


class BadRow(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column, self.reason = column, reason


# --- money ------------------------------------------------------------------------------------


def fen_to_yuan(amount_fen: int) -> Decimal:
    """Exact: 12345 fen → Decimal('123.45')."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise BadRow("amount", f"{amount_fen!r} is not a whole number of fen")
    return (Decimal(amount_fen) / 100).quantize(CENT)


def yuan_to_fen(value: Any, column: str) -> int:
    """'123.45' / 123.45 / Decimal → 12345; more than 2 decimals is an error, not a rounding."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise BadRow(column, "missing amount")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise BadRow(column, f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount != amount.quantize(CENT):
        raise BadRow(column, f"{value!r} is not an amount with at most 2 decimals")
    return int(amount * 100)


# --- placement out ------------------------------------------------------------------------------


def placement_rows(
    accounts: pa.Table, *, agency: str, placed_on: date, unmasked: Sequence[str] = DEFAULT_UNMASKED
) -> list[dict[str, Any]]:
    """The rows of a placement file (masked, amounts in yuan) for ``accounts``."""
    missing = [c for c in PLACEMENT_REQUIRED if c not in accounts.column_names]
    if missing:
        raise ValueError(f"placement input lacks column(s) {', '.join(missing)}")
    if accounts.num_rows > MAX_PLACEMENT_ROWS:
        raise ValueError(f"{accounts.num_rows} accounts exceed {MAX_PLACEMENT_ROWS} per file")
    fen_columns = [c for c in accounts.column_names if c.endswith("_fen")]
    remaining = [c for c in accounts.column_names if c.startswith("remaining_")]
    optional = [c for c in PLACEMENT_OPTIONAL if c in accounts.column_names]
    rows = []
    for index, record in enumerate(accounts.to_pylist()):
        row: dict[str, Any] = {"agency": agency, "placed_on": placed_on.isoformat()}
        for name in ("account_id", "customer_id", "name", "phone", *optional):
            value = record[name]
            masker = MASKERS.get(name)
            row[name] = value if masker is None or name in unmasked else masker(value)
        row["dpd"] = int(record["dpd"])
        for name in fen_columns:
            row[name.removesuffix("_fen") + "_yuan"] = fen_to_yuan(record[name])
        for name in remaining:
            allowance = record[name]
            if not isinstance(allowance, int) or allowance < 0:
                raise ValueError(f"placement input row {index}: {name}: {allowance!r} is not ≥ 0")
            row[name] = allowance
        rows.append(row)
    return rows


def write_placement(
    accounts: pa.Table,
    out_dir: Path,
    *,
    agency: str,
    placed_on: date,
    formats: Iterable[str] = ("xlsx", "csv"),
    unmasked: Sequence[str] = DEFAULT_UNMASKED,
) -> list[Path]:
    """Write ``placement_<agency>_<date>.xlsx`` / ``.csv``; returns the paths written."""
    rows = placement_rows(accounts, agency=agency, placed_on=placed_on, unmasked=unmasked)
    header = list(rows[0]) if rows else ["agency", "placed_on", *PLACEMENT_REQUIRED]
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"placement_{agency}_{placed_on.isoformat()}"
    written = []
    for kind in formats:
        if kind == "csv":
            written.append(_write_csv(stem.with_suffix(".csv"), header, rows))
        elif kind == "xlsx":
            written.append(_write_xlsx(stem.with_suffix(".xlsx"), header, rows))
        else:
            raise ValueError(f"placement format {kind!r} is not xlsx or csv")
    return written


def _write_csv(path: Path, header: list[str], rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:  # BOM: Excel reads 中文
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else str(v)) for k, v in row.items()})
    return path


def _write_xlsx(path: Path, header: list[str], rows: list[dict[str, Any]]) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("placement")
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(name) for name in header])
    book.save(path)
    return path


def read_placement(path: Path) -> pa.Table:
    """A placement file back as a table, ``*_yuan`` columns returned as exact ``*_fen``."""
    rows, _ = _read_rows(path, "placement")
    out = []
    for row in rows:
        record: dict[str, Any] = {}
        for name, value in row.items():
            if name.endswith("_yuan"):
                record[name.removesuffix("_yuan") + "_fen"] = yuan_to_fen(value, name)
            elif name == "dpd" or name.startswith("remaining_"):
                record[name] = int(value)
            else:
                record[name] = None if value in (None, "") else str(value)
        out.append(record)
    return pa.Table.from_pylist(out)


# --- results in ---------------------------------------------------------------------------------


@dataclass
class AgencyResults:
    contacts: pa.Table
    payments: pa.Table
    errors: list[RowError] = field(default_factory=list)


def _read_rows(path: Path, sheet: str) -> tuple[list[dict[str, Any]], bool]:
    """Rows of a CSV, or of ``sheet`` in a workbook (False when the workbook lacks the sheet)."""
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle)), True
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        names = [name for name in book.sheetnames if name.strip().lower() == sheet]
        if not names and sheet == "placement":
            names = book.sheetnames[:1]
        if not names:
            return [], False
        values = book[names[0]].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(values, ())]
        rows = [dict(zip(header, line, strict=False)) for line in values]
    finally:
        book.close()
    return [r for r in rows if any(v not in (None, "") for v in r.values())], True


def _flag(row: dict[str, Any], column: str, default: bool | None = None) -> bool:
    value = row.get(column)
    if value is None or (default is not None and str(value).strip() == ""):
        if default is None:
            raise BadRow(column, "missing true/false")
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise BadRow(column, f"{value!r} is not true/false")


def _required(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if value is None or not str(value).strip():
        raise BadRow(column, "missing")
    return str(value).strip()


def _instant(row: dict[str, Any]) -> datetime:
    value = row.get("attempted_at")
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(_required(row, "attempted_at"))
        except ValueError:
            raise BadRow("attempted_at", f"{value!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise BadRow("attempted_at", f"{value!r} has no UTC offset (e.g. +08:00)")
    return moment.astimezone(UTC)


def _contact(row: dict[str, Any], agency: str, placed: set[str] | None) -> dict[str, Any]:
    account_id = _required(row, "account_id")
    if placed is not None and account_id not in placed:
        raise BadRow("account_id", f"{account_id} is not placed with {agency}")
    channel = _required(row, "channel")
    if channel not in CHANNELS:
        raise BadRow("channel", f"{channel!r} is not one of {', '.join(CHANNELS)}")
    zone = _required(row, "time_zone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRow("time_zone", f"{zone!r} is not an IANA time zone") from None
    connected = _flag(row, "connected")
    right_party = _flag(row, "right_party", default=connected)
    conversation = _flag(row, "conversation", default=right_party and channel.startswith("voice"))
    if right_party and not connected:
        raise BadRow("right_party", "true although connected is false")
    return {
        "contact_id": str(row.get("agency_contact_id") or ""),
        "customer_id": _required(row, "customer_id"),
        "account_id": account_id,
        "channel": channel,
        "to_address": _required(row, "to_address"),
        "recipient_kind": str(row.get("recipient_kind") or "debtor"),
        "attempted_at_utc": _instant(row),
        "time_zone": zone,
        "source": agency,
        "connected": connected,
        "right_party": right_party,
        "conversation": conversation,
        "outcome": str(row.get("outcome") or ""),
    }


def _payment(row: dict[str, Any], agency: str, placed: set[str] | None) -> dict[str, Any]:
    account_id = _required(row, "account_id")
    if placed is not None and account_id not in placed:
        raise BadRow("account_id", f"{account_id} is not placed with {agency}")
    amount_fen = yuan_to_fen(row.get("amount_yuan"), "amount_yuan")
    if amount_fen <= 0:
        raise BadRow("amount_yuan", f"{row.get('amount_yuan')!r} must be > 0")
    value = row.get("value_date")
    try:
        day = value.date() if isinstance(value, datetime) else date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadRow("value_date", f"{value!r} is not a date YYYY-MM-DD") from None
    return {"payment_id": _required(row, "payment_id"), "account_id": account_id,
            "amount_fen": amount_fen, "value_date": day, "source": agency}


def _validate(
    path: Path,
    rows: list[dict[str, Any]],
    parse: Callable[[dict[str, Any]], dict[str, Any]],
    required: Sequence[str],
    errors: list[RowError],
) -> list[dict[str, Any]]:
    if len(rows) > MAX_RESULT_ROWS:
        raise ValueError(f"{path}: {len(rows)} rows exceed {MAX_RESULT_ROWS}")
    header = set(rows[0]) if rows else set(required)
    missing = [c for c in required if c not in header]
    if missing:
        errors.append(RowError(path.name, 1, ",".join(missing), "missing column(s)"))
        return []
    good = []
    for number, row in enumerate(rows, start=2):
        try:
            good.append(parse(row))
        except BadRow as exc:
            if len(errors) < MAX_ERRORS:
                errors.append(RowError(path.name, number, exc.column, exc.reason))
    return good


def _result_sheets(path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """(kind, rows) pairs in a results file: a CSV is one kind, told by its header."""
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = set(reader.fieldnames or ())
        return [("payments" if "payment_id" in header else "contacts", rows)]
    found = []
    for sheet in ("contacts", "payments"):
        rows, present = _read_rows(path, sheet)
        if present:
            found.append((sheet, rows))
    return found


def read_agency_results(
    paths: Iterable[Path], *, agency: str, placed_accounts: Iterable[str] | None = None
) -> AgencyResults:
    """Contacts and payments reported by ``agency`` in CSV files or workbooks.

    A CSV is a contacts file when it has ``attempted_at`` and a payments file when it has
    ``payment_id``; a workbook may hold a ``contacts`` and a ``payments`` sheet. Payment ids
    repeated across the files are kept once.
    """
    placed = set(placed_accounts) if placed_accounts is not None else None
    errors: list[RowError] = []
    contacts: list[dict[str, Any]] = []
    payments: dict[str, dict[str, Any]] = {}
    for path in map(Path, paths):
        for sheet, rows in _result_sheets(path):
            if sheet == "contacts":
                parse_contact = lambda r: _contact(r, agency, placed)  # noqa: E731
                contacts += _validate(path, rows, parse_contact, CONTACT_COLUMNS, errors)
                continue
            parse_payment = lambda r: _payment(r, agency, placed)  # noqa: E731
            for payment in _validate(path, rows, parse_payment, PAYMENT_COLUMNS, errors):
                payments.setdefault(payment["payment_id"], payment)
    return AgencyResults(
        contacts=pa.Table.from_pylist(contacts, schema=CONTACT_SCHEMA),
        payments=pa.Table.from_pylist(list(payments.values()), schema=PAYMENT_SCHEMA),
        errors=errors,
    )


def write_errors(errors: Sequence[RowError], path: Path) -> Path:
    """The rejected rows' reasons as a CSV (the quarantine report)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "column", "reason"])
        for error in errors:
            writer.writerow([error.file, error.row, error.column, error.reason])
    return path

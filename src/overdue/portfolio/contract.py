"""The book's data contract as data: tables, columns, types, keys, allowed values, references.

One definition, imported by ingest (validation), the synthetic-book generator (writing) and the
end-of-day batch (reading). ``docs/data-contract.md`` explains it in prose; keep both in step.

Amounts are integer fen (``*_fen``, int64), dates are ``date32``, ids are strings. Event tables
(due items, payments, waivers, reversals) carry ``entry_date`` (booking date) and ``entry_seq``
(booking order) and are stored hive-partitioned by ``entry_date``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Final, Literal

import pyarrow as pa

FORMAT: Final = "overdue-book/1"

ColumnKind = Literal["id", "text", "enum", "date", "fen", "int", "decimal", "time_zone"]
DuplicatePolicy = Literal["idempotent", "identical"]

# Limits on values (TigerStyle: everything has a bound). Dates outside these years are impossible.
MIN_YEAR: Final = 1900
MAX_YEAR: Final = 2200
MAX_ID_CHARS: Final = 64
MAX_TEXT_CHARS: Final = 200
MAX_ANNUAL_RATE: Final = 1  # annual_rate is a fraction: 0.146 means 14.6 % a year

PRESET_POLICIES: Final = ("huabei-like", "jiebei-like", "us-card")
PRODUCTS: Final = ("revolving", "installment")
CURRENCIES: Final = ("CNY", "USD")
LANGUAGES: Final = ("zh-CN", "en")
REPAYMENT_METHODS: Final = ("equal_installment", "equal_principal", "interest_first", "hybrid_6_6")
WAIVER_COMPONENTS: Final = ("fee", "penalty", "interest", "principal")

_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "id": pa.string(),
    "text": pa.string(),
    "enum": pa.string(),
    "time_zone": pa.string(),
    "decimal": pa.string(),
    "date": pa.date32(),
    "fen": pa.int64(),
    "int": pa.int64(),
}


@dataclass(frozen=True)
class Column:
    """One column: its name, kind (which fixes the Arrow type), meaning and validation rules."""

    name: str
    kind: ColumnKind
    meaning: str
    nullable: bool = False
    allowed: tuple[str, ...] = ()
    min_value: int | None = None
    references: str | None = None  # "table.column" that must hold this value

    def __post_init__(self) -> None:
        assert (self.kind == "enum") == bool(self.allowed), f"{self.name}: enum needs values"
        assert self.min_value is None or self.kind in ("fen", "int"), self.name
        assert not self.name.endswith("_fen") or self.kind == "fen", self.name

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.kind]

    @property
    def max_chars(self) -> int | None:
        return {"id": MAX_ID_CHARS, "text": MAX_TEXT_CHARS}.get(self.kind)


@dataclass(frozen=True)
class DateOrder:
    """Row rule: ``earlier`` ≤ ``later`` (both date columns of the same row)."""

    earlier: str
    later: str


@dataclass(frozen=True)
class RequiredWhen:
    """Row rule: ``column`` must be filled when ``when_column`` equals ``when_value``."""

    column: str
    when_column: str
    when_value: str


@dataclass(frozen=True)
class TableSpec:
    """One table of the book."""

    name: str
    meaning: str
    columns: tuple[Column, ...]
    key: str
    optional: bool = False
    partitioned: bool = False  # event table: hive-partitioned by entry_date, ordered by entry_seq
    duplicates: DuplicatePolicy = "identical"
    date_orders: tuple[DateOrder, ...] = ()
    required_when: tuple[RequiredWhen, ...] = ()
    example: tuple[dict[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        names = self.column_names
        assert len(set(names)) == len(names), f"{self.name}: duplicate column names"
        assert self.key in names, f"{self.name}: key {self.key} is not a column"
        assert not self.column(self.key).nullable, f"{self.name}: key must not be nullable"
        assert not self.partitioned or {"entry_date", "entry_seq"} <= set(names), self.name
        for rule in self.date_orders:
            assert self.column(rule.earlier).kind == "date" == self.column(rule.later).kind
        for req in self.required_when:
            assert self.column(req.column).nullable, f"{self.name}.{req.column}"
            assert req.when_value in self.column(req.when_column).allowed
        for row in self.example:
            assert set(row) == set(names), f"{self.name}: example row must have every column"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns a source file must have (nullable columns may be left out: all null)."""
        return tuple(c.name for c in self.columns if not c.nullable)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    def arrow_schema(self) -> pa.Schema:
        """Schema of the whole table as the batch sees it (``entry_date`` included)."""
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns]
        )

    def file_schema(self) -> pa.Schema:
        """Schema of the stored Parquet file: partitioned tables keep ``entry_date`` in the path."""
        schema = self.arrow_schema()
        if self.partitioned:
            schema = schema.remove(schema.get_field_index("entry_date"))
        return schema

    def empty(self) -> pa.Table:
        return self.arrow_schema().empty_table()


def _id(name: str, meaning: str, references: str | None = None) -> Column:
    return Column(name, "id", meaning, references=references)


def _fen(name: str, meaning: str, *, nullable: bool = False, positive: bool = False) -> Column:
    return Column(name, "fen", meaning, nullable=nullable, min_value=1 if positive else 0)


def _date(name: str, meaning: str) -> Column:
    return Column(name, "date", meaning)


_ACCOUNT_REF = "accounts.account_id"
_ENTRY_DATE = _date("entry_date", "booking date: the day the event became known to the system")
_ENTRY_SEQ = Column(
    "entry_seq", "int", "booking order, unique within the table (a global sequence)", min_value=0
)
_VALUE_BEFORE_ENTRY = (DateOrder("value_date", "entry_date"),)

CUSTOMERS: Final = TableSpec(
    name="customers",
    meaning="One row per customer (borrower).",
    key="customer_id",
    columns=(
        _id("customer_id", "customer id"),
        Column("language", "enum", "language of messages to the customer", allowed=LANGUAGES),
        Column("time_zone", "time_zone", "IANA time zone of the customer (contact hours)"),
        Column("region", "text", "region (province / state), free text", nullable=True),
        Column("segment", "text", "business segment label, free text", nullable=True),
    ),
    example=(
        {
            "customer_id": "C1",
            "language": "zh-CN",
            "time_zone": "Asia/Shanghai",
            "region": "Zhejiang",
            "segment": "prime",
        },
        {
            "customer_id": "C2",
            "language": "en",
            "time_zone": "America/New_York",
            "region": "",
            "segment": "",
        },
    ),
)

ACCOUNTS: Final = TableSpec(
    name="accounts",
    meaning="One row per credit account (a revolving line or an installment loan).",
    key="account_id",
    columns=(
        _id("account_id", "account id"),
        _id("customer_id", "the customer who owes", references="customers.customer_id"),
        Column("product", "enum", "product type", allowed=PRODUCTS),
        Column(
            "policy",
            "id",
            "overdue policy: a preset name or the name of policies/<name>.toml in the book",
        ),
        Column("currency", "enum", "currency of every amount of the account", allowed=CURRENCIES),
        _date("opened_on", "date the account was opened / the loan was booked"),
        _fen("credit_limit_fen", "credit limit (revolving; required there)", nullable=True),
        _fen("principal_fen", "original principal (installment; required there)", nullable=True),
        Column(
            "term_months",
            "int",
            "number of monthly periods (installment; required there)",
            nullable=True,
            min_value=1,
        ),
        Column(
            "repayment_method",
            "enum",
            "repayment method (installment; required there)",
            nullable=True,
            allowed=REPAYMENT_METHODS,
        ),
        Column(
            "annual_rate",
            "decimal",
            "contract annual rate as a decimal fraction string ('0.146' = 14.6 %)",
            nullable=True,
        ),
    ),
    required_when=(
        RequiredWhen("credit_limit_fen", "product", "revolving"),
        RequiredWhen("principal_fen", "product", "installment"),
        RequiredWhen("term_months", "product", "installment"),
        RequiredWhen("repayment_method", "product", "installment"),
    ),
    example=(
        {
            "account_id": "A1",
            "customer_id": "C1",
            "product": "revolving",
            "policy": "huabei-like",
            "currency": "CNY",
            "opened_on": "2025-11-15",
            "credit_limit_fen": "1000000",
            "principal_fen": "",
            "term_months": "",
            "repayment_method": "",
            "annual_rate": "",
        },
        {
            "account_id": "A2",
            "customer_id": "C2",
            "product": "installment",
            "policy": "jiebei-like",
            "currency": "CNY",
            "opened_on": "2025-12-01",
            "credit_limit_fen": "",
            "principal_fen": "1200000",
            "term_months": "12",
            "repayment_method": "equal_installment",
            "annual_rate": "0.146",
        },
    ),
)

DUE_ITEMS: Final = TableSpec(
    name="due_items",
    meaning="What falls due: a revolving bill or one installment of a loan.",
    key="item_id",
    partitioned=True,
    columns=(
        _id("item_id", "due item id"),
        _id("account_id", "the account", references=_ACCOUNT_REF),
        _date("due_date", "due date (payable until the end of this day)"),
        _fen("principal_fen", "principal due"),
        _fen("interest_fen", "interest due"),
        _fen("fee_fen", "fees due"),
        _fen("minimum_fen", "minimum payment (revolving bills only)", nullable=True),
        _date("entry_date", "date the item became known: loan booking or statement date"),
        _ENTRY_SEQ,
    ),
    date_orders=(DateOrder("entry_date", "due_date"),),
    example=(
        {
            "item_id": "I1",
            "account_id": "A1",
            "due_date": "2026-01-10",
            "principal_fen": "350000",
            "interest_fen": "0",
            "fee_fen": "0",
            "minimum_fen": "35000",
            "entry_date": "2026-01-01",
            "entry_seq": "1",
        },
        {
            "item_id": "I2",
            "account_id": "A2",
            "due_date": "2026-01-01",
            "principal_fen": "95000",
            "interest_fen": "14600",
            "fee_fen": "0",
            "minimum_fen": "",
            "entry_date": "2025-12-01",
            "entry_seq": "2",
        },
    ),
)

PAYMENTS: Final = TableSpec(
    name="payments",
    meaning="Money received. The same payment_id twice is one payment (idempotent).",
    key="payment_id",
    partitioned=True,
    duplicates="idempotent",
    columns=(
        _id("payment_id", "payment id (idempotency key)"),
        _id("account_id", "the account paid into", references=_ACCOUNT_REF),
        _date("value_date", "date the money counts from"),
        _ENTRY_DATE,
        _fen("amount_fen", "amount paid", positive=True),
        _ENTRY_SEQ,
    ),
    date_orders=_VALUE_BEFORE_ENTRY,
    example=(
        {
            "payment_id": "P1",
            "account_id": "A1",
            "value_date": "2026-01-09",
            "entry_date": "2026-01-09",
            "amount_fen": "35000",
            "entry_seq": "1",
        },
        {
            "payment_id": "P2",
            "account_id": "A2",
            "value_date": "2026-01-01",
            "entry_date": "2026-01-02",
            "amount_fen": "109600",
            "entry_seq": "2",
        },
    ),
)

WAIVERS: Final = TableSpec(
    name="waivers",
    meaning="Approved reductions of one component of what is owed.",
    key="waiver_id",
    optional=True,
    partitioned=True,
    columns=(
        _id("waiver_id", "waiver id"),
        _id("account_id", "the account", references=_ACCOUNT_REF),
        _date("value_date", "date the waiver takes effect"),
        _ENTRY_DATE,
        Column("component", "enum", "component reduced", allowed=WAIVER_COMPONENTS),
        _fen("amount_fen", "amount waived", positive=True),
        Column("approver", "id", "who approved the waiver"),
        _ENTRY_SEQ,
    ),
    date_orders=_VALUE_BEFORE_ENTRY,
    example=(
        {
            "waiver_id": "W1",
            "account_id": "A2",
            "value_date": "2026-02-03",
            "entry_date": "2026-02-03",
            "component": "penalty",
            "amount_fen": "1200",
            "approver": "lead.wang",
            "entry_seq": "1",
        },
    ),
)

REVERSALS: Final = TableSpec(
    name="reversals",
    meaning="A payment taken back (bounced, charged back): as if it had never been made.",
    key="reversal_id",
    optional=True,
    partitioned=True,
    columns=(
        _id("reversal_id", "reversal id"),
        _id("payment_id", "the payment reversed", references="payments.payment_id"),
        _id("account_id", "the account (must be the payment's account)", references=_ACCOUNT_REF),
        _date("value_date", "date the reversal takes effect"),
        _ENTRY_DATE,
        _ENTRY_SEQ,
    ),
    date_orders=_VALUE_BEFORE_ENTRY,
    example=(
        {
            "reversal_id": "R1",
            "payment_id": "P2",
            "account_id": "A2",
            "value_date": "2026-02-02",
            "entry_date": "2026-02-04",
            "entry_seq": "1",
        },
    ),
)

# In dependency order: every table references only tables before it.
TABLES: Final[dict[str, TableSpec]] = {
    t.name: t for t in (CUSTOMERS, ACCOUNTS, DUE_ITEMS, PAYMENTS, WAIVERS, REVERSALS)
}
EVENT_TABLES: Final = tuple(name for name, spec in TABLES.items() if spec.partitioned)


def _check_references() -> None:
    order = list(TABLES)
    for spec in TABLES.values():
        for col in spec.columns:
            if col.references is None:
                continue
            table, column = col.references.split(".")
            assert order.index(table) < order.index(spec.name), col.references
            assert TABLES[table].key == column, col.references


_check_references()


def known_presets() -> tuple[str, ...]:
    """Preset policy names: the contract's list plus any ``overdue/presets/*.toml`` shipped."""
    shipped: set[str] = set()
    try:
        for entry in resources.files("overdue.presets").iterdir():
            if entry.name.endswith(".toml"):
                shipped.add(entry.name.removesuffix(".toml"))
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    return tuple(sorted(set(PRESET_POLICIES) | shipped))


def schema_problems(spec: TableSpec, table: pa.Table) -> list[str]:
    """Ways ``table`` differs from the contract (names, order, types, nulls); empty when it fits."""
    expected = spec.arrow_schema()
    if table.schema.names != expected.names:
        return [f"{spec.name}: columns {table.schema.names} != contract {expected.names}"]
    problems = []
    for fld in expected:
        actual = table.schema.field(fld.name)
        if actual.type != fld.type:
            problems.append(f"{spec.name}.{fld.name}: type {actual.type} != {fld.type}")
        elif not fld.nullable and table.column(fld.name).null_count:
            problems.append(f"{spec.name}.{fld.name}: has nulls but is required")
    return problems


def conform(spec: TableSpec, table: pa.Table) -> pa.Table:
    """Select and cast ``table``'s columns to the contract schema (for writers such as the twin).

    Raises ``ValueError`` naming the table and column when a column is missing or cannot be cast
    safely (a float amount, for instance).
    """
    arrays = []
    for col in spec.columns:
        if col.name in table.column_names:
            array = table.column(col.name)
            if col.kind in ("fen", "int") and pa.types.is_floating(array.type):
                raise ValueError(f"{spec.name}.{col.name}: {array.type} is not exact; use int64")
            try:
                array = array.cast(col.arrow_type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ValueError(f"{spec.name}.{col.name}: {exc}") from None
        elif col.nullable:
            array = pa.nulls(table.num_rows, col.arrow_type)
        else:
            raise ValueError(f"{spec.name}: required column {col.name} is missing")
        arrays.append(array)
    result = pa.Table.from_arrays(arrays, schema=spec.arrow_schema())
    problems = schema_problems(spec, result)
    if problems:
        raise ValueError("; ".join(problems))
    return result

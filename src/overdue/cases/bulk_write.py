"""Batched writes for large case runs: ``COPY`` on PostgreSQL, executemany elsewhere.

``insert_rows`` fills in the models' Python-side defaults (COPY bypasses them);
``update_rows`` updates by primary key — on PostgreSQL by COPY into a temporary table and one
``UPDATE ... FROM``, elsewhere by an executemany UPDATE. Rows of one call share the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.orm import Session

from overdue.store.tables import Base

BATCH_ROWS = 20_000


def _chunks(rows: Sequence[dict[str, Any]]) -> list[Sequence[dict[str, Any]]]:
    return [rows[i : i + BATCH_ROWS] for i in range(0, len(rows), BATCH_ROWS)]


def scalar_defaults(table: str) -> dict[str, Any]:
    """The table's Python-side scalar defaults."""
    defaults = {}
    for column in Base.metadata.tables[table].columns:
        default = column.default
        if default is not None and default.is_scalar:
            defaults[column.name] = default.arg  # type: ignore[attr-defined]
    return defaults


def tsv(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    out = value.isoformat() if isinstance(value, date) else str(value)
    if "\\" in out or "\t" in out or "\n" in out or "\r" in out:
        out = out.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        out = out.replace("\r", "\\r")
    return out


def _quoted(columns: list[str]) -> list[str]:
    """Column names quoted (some, like ``on``, are reserved words)."""
    return [f'"{c}"' for c in columns]


def _column_text(values: list[Any]) -> list[str]:
    """A column in COPY text format; the type is dispatched once per column, not per value."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int} or kinds <= {float} or kinds <= {int, float}:
        return [r"\N" if v is None else str(v) for v in values]
    if kinds <= {bool}:
        return [r"\N" if v is None else ("t" if v else "f") for v in values]
    return [tsv(v) for v in values]


def _copy(session: Session, table: str, columns: list[str], rows: Sequence[dict[str, Any]]) -> None:
    text_columns = [_column_text([row[c] for row in rows]) for c in columns]
    lines = "\n".join("\t".join(parts) for parts in zip(*text_columns, strict=True)) + "\n"
    raw: Any = session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(_quoted(columns))}) FROM STDIN") as copy,
    ):
        copy.write(lines.encode())


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    table = model.__tablename__
    defaults = {k: v for k, v in scalar_defaults(table).items() if k not in rows[0]}
    full = [{**row, **defaults} for row in rows]
    session.flush()  # pending ORM rows first: COPY does not go through the unit of work
    for part in _chunks(full):
        if _postgres(session):
            _copy(session, table, list(part[0]), part)
        else:
            session.execute(insert(model), list(part))


def update_rows(session: Session, model: Any, key: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    if not _postgres(session):
        for part in _chunks(rows):
            session.execute(update(model), list(part))
        return
    table = model.__tablename__
    columns = list(rows[0])
    assert key in columns
    session.flush()
    session.execute(
        text(
            f"CREATE TEMP TABLE _bulk_update ON COMMIT DROP AS "
            f"SELECT {', '.join(_quoted(columns))} FROM {table} WITH NO DATA"
        )
    )
    for part in _chunks(rows):
        _copy(session, "_bulk_update", columns, part)
    assignments = ", ".join(f'"{c}" = u."{c}"' for c in columns if c != key)
    session.execute(
        text(f"UPDATE {table} SET {assignments} FROM _bulk_update u WHERE {table}.{key} = u.{key}")
    )
    session.execute(text("DROP TABLE _bulk_update"))
    session.expire_all()  # loaded objects must not keep the old values

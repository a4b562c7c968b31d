"""The outbox: one row per allowed contact, written before anything is sent.

``enqueue(session, rows)`` inserts rows with ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING``
(SQLite and PostgreSQL dialect inserts), so enqueueing the same day twice is a no-op; it returns
``(inserted, duplicates)``. The dispatcher (:mod:`overdue.contact.dispatcher`) sends the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import pyarrow as pa
from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from overdue.contact.adapters.base import CHANNELS
from overdue.contact.keys import is_key
from overdue.store.tables import OutboxMessage

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
INSERT_CHUNK_ROWS = 500
MAX_ENQUEUE_ROWS = 500_000
MAX_ADDRESS_CHARS = 400
MAX_SUBJECT_CHARS = 400
MAX_BODY_CHARS = 20_000
STATUSES = ("queued", "sending", "sent", "failed", "dead")
PAYLOAD_COLUMNS = (
    "strategy",
    "strategy_version",
    "segment",
    "arm",
    "step_id",
    "template",
    "tone",
    "language",
    "time_zone",
    "recipient_kind",
    "priority",
    "reason",
)


class EnqueueResult(NamedTuple):
    inserted: int
    duplicates: int


class OutboxRowError(ValueError):
    """A row that cannot go into the outbox: its index, the field and why."""

    def __init__(self, row: int, field: str, reason: str) -> None:
        super().__init__(f"outbox row {row}: {field}: {reason}")
        self.row, self.field, self.reason = row, field, reason


def _instant(value: Any, row: int, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise OutboxRowError(row, field, f"{value!r} is not a timezone-aware datetime")
    return value.astimezone(UTC)


def _text(record: Mapping[str, Any], row: int, field: str, limit: int) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise OutboxRowError(row, field, "missing or empty")
    if len(value) > limit:
        raise OutboxRowError(row, field, f"{len(value)} characters (limit {limit})")
    return value


def _as_of(value: Any, row: int) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise OutboxRowError(row, "as_of", f"{value!r} is not a date") from None
    return value


def normalise_row(record: Mapping[str, Any], row: int, now: datetime) -> dict[str, Any]:
    """One validated outbox row (``contact_id`` is accepted for ``idempotency_key``)."""
    key = record.get("idempotency_key") or record.get("contact_id")
    if not isinstance(key, str) or not is_key(key):
        raise OutboxRowError(row, "idempotency_key", f"{key!r} is not 32 hex characters")
    channel = record.get("channel")
    if channel not in CHANNELS:
        raise OutboxRowError(row, "channel", f"{channel!r} is not one of {', '.join(CHANNELS)}")
    subject = record.get("subject")
    if subject is not None and len(str(subject)) > MAX_SUBJECT_CHARS:
        raise OutboxRowError(row, "subject", f"longer than {MAX_SUBJECT_CHARS} characters")
    payload = dict(record.get("payload") or {})
    next_at = record.get("next_attempt_at") or record.get("planned_at_utc") or now
    case_id = record.get("case_id")
    return {
        "idempotency_key": key,
        "channel": channel,
        "to_address": _text(record, row, "to_address", MAX_ADDRESS_CHARS),
        "subject": None if subject is None else str(subject),
        "body": _text(record, row, "body", MAX_BODY_CHARS),
        "payload": payload,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": _instant(next_at, row, "next_attempt_at"),
        "created_at": now,
        "as_of": _as_of(record.get("as_of"), row),
        "case_id": None if case_id is None else int(case_id),
        "customer_id": _text(record, row, "customer_id", 64),
        "account_id": _text(record, row, "account_id", 64),
    }


def _insert_ignoring_duplicates(connection: Connection, chunk: list[dict[str, Any]]) -> int:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql.insert(OUTBOX)
    elif dialect == "sqlite":
        statement = sqlite.insert(OUTBOX)
    else:  # pragma: no cover - only the two supported stores
        raise NotImplementedError(f"outbox on {dialect}")
    statement = statement.on_conflict_do_nothing(index_elements=["idempotency_key"])
    # executemany with RETURNING: SQLAlchemy batches it ("insertmanyvalues") with a cached
    # statement, far faster than compiling one VALUES clause per chunk
    returned = connection.execute(statement.returning(OUTBOX.c.id, sort_by_parameter_order=True), chunk)
    return len(returned.all())


def enqueue(
    session: Session, rows: Iterable[Mapping[str, Any]], *, now: datetime | None = None
) -> EnqueueResult:
    """Insert ``rows`` into the outbox; rows whose key is already there are skipped (counted).

    ``now`` is the created_at stamp (UTC; defaults to the wall clock: this is the edge).
    The caller's session commits.
    """
    stamp = _instant(now or datetime.now(UTC), -1, "now")
    inserted = total = 0
    chunk: list[dict[str, Any]] = []
    connection = session.connection()
    for index, record in enumerate(rows):
        if index >= MAX_ENQUEUE_ROWS:
            raise OutboxRowError(index, "-", f"more than {MAX_ENQUEUE_ROWS} rows in one enqueue")
        chunk.append(normalise_row(record, index, stamp))
        total += 1
        if len(chunk) == INSERT_CHUNK_ROWS:
            inserted += _insert_ignoring_duplicates(connection, chunk)
            chunk = []
    if chunk:
        inserted += _insert_ignoring_duplicates(connection, chunk)
    assert 0 <= inserted <= total
    return EnqueueResult(inserted, total - inserted)


RenderFn = Callable[[dict[str, Any]], tuple[str | None, str]]


def rows_from_planned(planned: pa.Table, render: RenderFn) -> list[dict[str, Any]]:
    """Outbox rows for the allowed contacts of a gated plan (contracts.md shape 2 + ``allowed``).

    ``render(planned_row) -> (subject, body)`` supplies the message text; the decision's
    strategy, segment, arm, step, template and tone travel in ``payload`` for the audit.
    """
    records: Sequence[dict[str, Any]] = planned.to_pylist()
    rows = []
    for record in records:
        if "allowed" in record and not record["allowed"]:
            continue
        subject, body = render(record)
        payload = {name: record[name] for name in PAYLOAD_COLUMNS if name in record}
        rows.append({**record, "subject": subject, "body": body, "payload": payload})
    return rows


def status_counts(engine: Engine) -> dict[str, int]:
    """Rows per status, plus ``resends`` = attempts beyond the first over sent rows."""
    with engine.connect() as connection:
        by_status = connection.execute(
            select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
        ).all()
        resends = connection.execute(
            select(func.coalesce(func.sum(OUTBOX.c.attempts - 1), 0)).where(
                OUTBOX.c.status == "sent", OUTBOX.c.attempts > 1
            )
        ).scalar_one()
    counts = {status: 0 for status in STATUSES}
    counts.update({str(status): int(n) for status, n in by_status})
    counts["resends"] = int(resends)
    return counts

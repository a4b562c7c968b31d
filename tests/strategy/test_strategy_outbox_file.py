"""Differential test: the day's outbox file, built column by column, equals the row-by-row build
it replaced (kept here as the reference), with and without a renderer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.contact.outbox import PAYLOAD_COLUMNS
from overdue.strategy.run_day import OUTBOX_COLUMNS, OUTBOX_SCHEMA, write_outbox

TEXT = st.one_of(st.none(), st.text(max_size=8))
AS_OF = date(2024, 7, 1)


def _reference(allowed: pa.Table, render: Any) -> pa.Table:
    """The row-by-row build (run_day.write_outbox before 2026-11-28)."""
    out: dict[str, list[Any]] = {name: [] for name in OUTBOX_COLUMNS}
    for r in allowed.to_pylist():
        subject, body = render(r) if render is not None else (None, "")
        payload = {k: r[k] for k in PAYLOAD_COLUMNS if k in r}
        out["idempotency_key"].append(r["contact_id"])
        out["channel"].append(r["channel"])
        out["to_address"].append(r["to_address"])
        out["subject"].append(subject)
        out["body"].append(body)
        out["payload"].append(json.dumps(payload, ensure_ascii=False, sort_keys=True))
        out["status"].append("queued")
        out["attempts"].append(0)
        out["next_attempt_at"].append(r["planned_at_utc"])
        out["as_of"].append(AS_OF)
        out["case_id"].append(None)
        out["customer_id"].append(r["customer_id"])
        out["account_id"].append(r["account_id"])
    return pa.table(out, schema=OUTBOX_SCHEMA).sort_by("idempotency_key")


@st.composite
def plans(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 12))
    ids = draw(st.lists(st.text("0123456789abcdef", min_size=4, max_size=4), min_size=n,
                        max_size=n, unique=True))  # fmt: skip
    columns: dict[str, Any] = {
        "contact_id": pa.array(ids, pa.string()),
        "customer_id": pa.array([f"C{i}" for i in range(n)], pa.string()),
        "account_id": pa.array([f"A{i}" for i in range(n)], pa.string()),
        "channel": pa.array(
            draw(st.lists(st.sampled_from(["sms", "email"]), min_size=n, max_size=n)), pa.string()
        ),
        "to_address": pa.array([f"tel:{i}" for i in range(n)], pa.string()),
        "planned_at_utc": pa.array(
            [datetime(2024, 7, 1, 2, i, tzinfo=UTC) for i in range(n)], pa.timestamp("us", "UTC")
        ),
    }
    for name in PAYLOAD_COLUMNS:
        if draw(st.booleans()):
            if name == "priority":
                values = draw(st.lists(st.integers(1, 9), min_size=n, max_size=n))
                columns[name] = pa.array(values, pa.int32())
            else:
                columns[name] = pa.array(draw(st.lists(TEXT, min_size=n, max_size=n)), pa.string())
    return pa.table(columns)


def _render(row: dict[str, Any]) -> tuple[str | None, str]:
    return (
        None if row["channel"] == "sms" else f"subject {row['contact_id']}",
        f"body {row['account_id']}",
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(allowed=plans(), rendered=st.booleans())
def test_outbox_file_equals_the_row_by_row_build(
    allowed: pa.Table, rendered: bool, tmp_path: Path
) -> None:
    render = _render if rendered else None
    write_outbox(allowed, render, tmp_path, AS_OF)
    written = pq.read_table(tmp_path / f"as_of={AS_OF.isoformat()}.parquet")
    expected = _reference(allowed, render)
    assert written.to_pylist() == expected.to_pylist()
    assert written.schema.equals(OUTBOX_SCHEMA)

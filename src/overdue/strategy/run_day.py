"""The daily run: end-of-day batch → scoring → decisions → the gate → the outbox.

``run_day(data_dir, as_of, snapshots=…, strategy=…, profile=…)`` performs, in order:

1. ``eod``: the end-of-day batch (:func:`overdue.portfolio.eod.run_eod`; incremental when an
   earlier snapshot exists) → ``SNAPSHOT_DIR/as_of=D/accounts/``;
2. ``scoring`` (only with ``models``): the models helper's scorer →
   ``SNAPSHOT_DIR/as_of=D/scores/``;
3. ``decisions``: the strategy's decisions for every account (:mod:`overdue.strategy.decide`)
   → ``SNAPSHOT_DIR/as_of=D/decisions/part-0.parquet``;
4. ``gate``: every planned contact through the compliance gate
   (:func:`overdue.compliance.gate.check`) → ``SNAPSHOT_DIR/as_of=D/contacts/part-0.parquet``
   (the plan plus ``allowed`` and ``blocked_rule``), with the profile's validation notices
   (:mod:`overdue.strategy.notices`; us: within 5 days of a debt's first collection contact);
5. ``outbox``: the allowed contacts into the store's outbox (with a store URL; enqueueing is
   idempotent on the contact id) or into ``OUTBOX_DIR/as_of=D.parquet`` with the outbox's
   columns.

Idempotent for a date: a rerun replaces each file by an identical one and adds no outbox row.
No clock is read: the outbox rows' times are the planned times.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.contact.outbox import PAYLOAD_COLUMNS as PAYLOAD_FIELDS
from overdue.errors import BadInput
from overdue.portfolio.eod import read_snapshot, run_eod, snapshot_path

HISTORY_DAYS: Final = 8  # the longest cap window is 7 days (Reg F), plus the day itself
OUTBOX_COLUMNS: Final = (
    "idempotency_key",
    "channel",
    "to_address",
    "subject",
    "body",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "as_of",
    "case_id",
    "customer_id",
    "account_id",
)
FLAGS_FILE: Final = "flags.parquet"  # optional: DATA_DIR/flags.parquet (customer_id + flags)


@dataclass
class Step:
    name: str
    rows: int
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class DayReport:
    as_of: str
    steps: list[Step] = field(default_factory=list)
    blocked_by_rule: dict[str, int] = field(default_factory=dict)
    gated: pa.Table | None = None  # the gate's rows (kept for the simulator, not serialised)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "steps": [asdict(s) for s in self.steps],
            "blocked_by_rule": dict(sorted(self.blocked_by_rule.items())),
        }


class _Timer:
    def __init__(self, report: DayReport, name: str) -> None:
        self.report, self.name = report, name

    def __enter__(self) -> _Timer:
        self.started = time.perf_counter()
        self.rows = 0
        self.detail: dict[str, Any] = {}
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = round(time.perf_counter() - self.started, 3)
        self.report.steps.append(Step(self.name, self.rows, seconds, self.detail))


RenderFn = Callable[[dict[str, Any]], tuple[str | None, str]]


def run_day(
    data_dir: Path,
    as_of: date,
    *,
    snapshots: Path,
    strategy: Any,
    profile: Any,
    store_url: str | None = None,
    models: Path | None = None,
    history: Any = None,
    flags: pa.Table | None = None,
    outbox_dir: Path | None = None,
    render: RenderFn | bool | None = True,
    engine: str = "duckdb",
    events: pa.Table | None = None,
    history_state: pa.Table | None = None,
) -> DayReport:
    """The daily run for ``as_of`` (see the module docstring).

    ``strategy``: a spec file, a shipped spec name or a loaded spec; ``profile``: ``cn``/``us``
    or a loaded profile. ``history``: the contact history the gate counts caps in (default:
    rebuilt from the contacts files of the previous days). ``flags``: customer flags (default:
    ``DATA_DIR/flags.parquet`` if present, else nobody flagged). ``render``: the message
    renderer for outbox bodies (True: the shipped templates; False: bodies left empty, for
    the simulator). ``events`` (account_id, kind, on_date: broken promises, failed
    auto-debits) start the strategy's triggers; ``history_state`` (account_id,
    promise_pending) feeds the ``promise_pending`` stop rule.
    """
    from overdue.strategy import notices, wiring

    data_dir, snapshots = Path(data_dir), Path(snapshots)
    spec = wiring.load_strategy(strategy)
    gate_profile = wiring.load_profile(profile)
    report = DayReport(as_of=as_of.isoformat())
    with _Timer(report, "eod") as step:
        # with models, the scoring takes the account rows the batch wrote from memory
        handoff = None
        if models is not None and engine == "duckdb":
            handoff = wiring.scoring_handoff()
        result = run_eod(data_dir, as_of, snapshots, engine=engine, handoff=handoff)
        step.rows = result.accounts
        step.detail = {"mode": result.mode}
    folder = snapshot_path(snapshots, as_of)
    scores = None
    with _Timer(report, "scoring") as step:
        if models is not None:
            scores = wiring.score(models, snapshots, as_of, data_dir, engine, handoff)
            step.rows = scores.num_rows
    with _Timer(report, "decisions") as step:
        snapshot = read_snapshot(snapshots, as_of)
        customers = pq.read_table(data_dir / "customers.parquet")
        flag_table = flags if flags is not None else read_flags(data_dir, customers)
        decisions, planned = wiring.decide(
            spec, snapshot, customers, flag_table, scores, as_of,
            events=events, history_state=history_state,
        )  # fmt: skip
        _write(decisions, folder / "decisions")
        step.rows = decisions.num_rows
        step.detail = {"planned": planned.num_rows}
    with _Timer(report, "gate") as step:
        if history is None:
            history = history_from_files(snapshots, as_of)
        people = 0  # calls people and agencies logged in the store count toward the caps
        if store_url is not None:
            people = add_people_attempts(history, store_url, as_of)
        gated = wiring.gate(planned, history, flag_table, gate_profile)
        gated = notices.add_notices(
            gated, snapshots=snapshots, as_of=as_of, snapshot=snapshot, customers=customers,
            flags=flag_table, history=history, profile=gate_profile,
        )  # fmt: skip
        _write(gated, folder / "contacts")
        step.rows = gated.num_rows
        blocked = gated.filter(pc.invert(gated["allowed"]))
        counts = pc.value_counts(blocked["blocked_rule"]).to_pylist()
        report.blocked_by_rule = {str(c["values"]): int(c["counts"]) for c in counts}
        step.detail = {
            "allowed": gated.num_rows - blocked.num_rows,
            "blocked": blocked.num_rows,
            "people_attempts": people,
        }
    with _Timer(report, "outbox") as step:
        allowed = gated.filter(gated["allowed"])
        renderer = wiring.renderer() if render is True else (render or None)
        if store_url is not None:
            inserted, duplicates = wiring.enqueue(store_url, allowed, renderer)
            step.rows = inserted
            step.detail = {"duplicates": duplicates}
        else:
            out = Path(outbox_dir) if outbox_dir is not None else snapshots / "outbox"
            step.rows = write_outbox(allowed, renderer, out, as_of)
            step.detail = {"file": str(out / f"as_of={as_of.isoformat()}.parquet")}
    report.gated = gated
    return report


def _write(table: pa.Table, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".part-0.parquet.tmp"
    pq.write_table(table, tmp)
    tmp.replace(folder / "part-0.parquet")


def read_flags(data_dir: Path, customers: pa.Table) -> pa.Table:
    """``DATA_DIR/flags.parquet`` when the book has one; else every customer unflagged."""
    from overdue.strategy.sim_book import FLAG_COLUMNS

    path = Path(data_dir) / FLAGS_FILE
    if path.is_file():
        table = pq.read_table(path)
        missing = [c for c in ("customer_id", *FLAG_COLUMNS) if c not in table.column_names]
        if missing:
            raise BadInput(f"{path}: missing columns {', '.join(missing)}")
        return table
    n = customers.num_rows
    columns = {"customer_id": customers["customer_id"]}
    columns.update({name: pa.array([False] * n) for name in FLAG_COLUMNS})
    return pa.table(columns)


def add_people_attempts(history: Any, store_url: str, as_of: date) -> int:
    """Add the store's logged attempts of the ``HISTORY_DAYS`` days before ``as_of`` and of
    ``as_of`` itself (UTC days, a day's margin for time zones) to ``history``."""
    from overdue.cases.contact_gate import people_attempts

    first = datetime.combine(as_of - timedelta(days=HISTORY_DAYS + 1), datetime.min.time(), UTC)
    until = datetime.combine(as_of + timedelta(days=2), datetime.min.time(), UTC)
    table = people_attempts(store_url, first, until)
    return int(history.record(table)) if table.num_rows else 0


def history_from_files(snapshots: Path, as_of: date) -> Any:
    """The contact history of the ``HISTORY_DAYS`` days before ``as_of``, from their files.

    Attempts come from ``as_of=D/contacts/`` (allowed rows); outcomes, where known, from
    ``as_of=D/outcomes/`` (the simulator writes them; in production call outcomes arrive as
    inbound events). An attempt without a known outcome counts as unanswered.
    """
    from overdue.strategy import wiring

    history = wiring.new_history()
    for back in range(HISTORY_DAYS, 0, -1):
        day = as_of - timedelta(days=back)
        folder = snapshot_path(snapshots, day)
        outcomes = folder / "outcomes" / "part-0.parquet"
        contacts = folder / "contacts" / "part-0.parquet"
        if outcomes.is_file():
            wiring.record(history, pq.read_table(outcomes))
        elif contacts.is_file():
            sent = pq.read_table(contacts)
            wiring.record(history, wiring.unanswered(sent.filter(sent["allowed"])))
    return history


def write_outbox(allowed: pa.Table, render: RenderFn | None, folder: Path, as_of: date) -> int:
    """The outbox rows of the day as Parquet, one row per contact id (a rerun replaces them).

    Columns come straight from the plan; only the renderer (when given) runs row by row."""
    n = allowed.num_rows
    keys = allowed.column("contact_id")
    assert pc.count_distinct(keys).as_py() == n, "contact ids are unique within a day"
    subjects: list[str | None] = [None] * n
    bodies: list[str] = [""] * n
    if render is not None:
        texts = [render(r) for r in allowed.to_pylist()]
        subjects, bodies = [t[0] for t in texts], [t[1] for t in texts]
    table = pa.table(
        {
            "idempotency_key": keys,
            "channel": allowed.column("channel"),
            "to_address": allowed.column("to_address"),
            "subject": pa.array(subjects, pa.string()),
            "body": pa.array(bodies, pa.string()),
            "payload": payload_texts(allowed),
            "status": pa.repeat(pa.scalar("queued"), n),
            "attempts": pa.repeat(pa.scalar(0, pa.int32()), n),
            "next_attempt_at": allowed.column("planned_at_utc"),
            "as_of": pa.repeat(pa.scalar(as_of, pa.date32()), n),
            "case_id": pa.nulls(n, pa.int64()),
            "customer_id": allowed.column("customer_id"),
            "account_id": allowed.column("account_id"),
        },
    )
    table = table.cast(OUTBOX_SCHEMA).sort_by("idempotency_key")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".as_of={as_of.isoformat()}.parquet.tmp"
    pq.write_table(table, tmp)
    tmp.replace(folder / f"as_of={as_of.isoformat()}.parquet")
    return table.num_rows


def payload_texts(allowed: pa.Table) -> pa.Array:
    """Each row's ``json.dumps({field: value for the PAYLOAD_FIELDS it has}, ensure_ascii=False,
    sort_keys=True)``, built column by column: each distinct value is dumped once."""
    n = allowed.num_rows
    names = sorted(k for k in PAYLOAD_FIELDS if k in allowed.column_names)
    if not names:
        return pa.repeat(pa.scalar("{}"), n)
    parts: list[pa.Array | str] = []
    for i, name in enumerate(names):
        column = allowed.column(name)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        dumped = pa.array(
            [json.dumps(v, ensure_ascii=False) for v in encoded.dictionary.to_pylist()],
            pa.string(),
        )
        prefix = ("{" if i == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": "
        parts += [prefix, dumped.take(encoded.indices)]
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


OUTBOX_SCHEMA: Final = pa.schema(
    [
        ("idempotency_key", pa.string()),
        ("channel", pa.string()),
        ("to_address", pa.string()),
        ("subject", pa.string()),
        ("body", pa.string()),
        ("payload", pa.string()),
        ("status", pa.string()),
        ("attempts", pa.int32()),
        ("next_attempt_at", pa.timestamp("us", tz="UTC")),
        ("as_of", pa.date32()),
        ("case_id", pa.int64()),
        ("customer_id", pa.string()),
        ("account_id", pa.string()),
    ]
)

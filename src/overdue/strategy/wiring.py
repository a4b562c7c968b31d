"""The daily run's and the simulator's calls into the other parts, in one place.

Strategy specs and decisions (:mod:`overdue.strategy.spec`, :mod:`overdue.strategy.decide`), the
compliance gate and its contact history (:mod:`overdue.compliance.gate`), the outbox
(:mod:`overdue.contact.outbox`), message rendering (:mod:`overdue.contact.render`) and scoring
(:mod:`overdue.scoring`). Imports are local so that ``overdue --help`` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.errors import BadInput
from overdue.portfolio.account_handoff import AccountHandoff


def load_strategy(strategy: Any) -> Any:
    """A loaded spec as is; a shipped name (``default``, ``aggressive``) or a file loaded."""
    from overdue.strategy.spec import StrategySpec, load_spec

    if isinstance(strategy, StrategySpec):
        return strategy
    return load_spec(strategy)


def load_profile(profile: Any) -> Any:
    """The compliance profile ``cn`` or ``us`` (a loaded profile as is)."""
    from overdue.compliance.profile import load_profile as load

    if not isinstance(profile, str):
        return profile
    if profile not in ("cn", "us"):
        raise BadInput(f"--profile: {profile!r} must be cn or us")
    return load(profile)


def arms_of(spec: Any, customer_ids: pa.Array) -> np.ndarray:
    """Every customer's arm (champion, challengers, holdout): the decisions' own hashing."""
    from overdue.strategy.arms import assign_arms

    experiment = spec.experiment
    arms = assign_arms(
        customer_ids, experiment.salt, experiment.holdout_share, experiment.arm_shares()
    )
    return np.array(arms.to_pylist(), dtype=object)


def decide(
    spec: Any,
    snapshot: pa.Table,
    customers: pa.Table,
    flags: pa.Table | None,
    scores: pa.Table | None,
    as_of: date,
    *,
    events: pa.Table | None = None,
    history_state: pa.Table | None = None,
) -> tuple[pa.Table, pa.Table]:
    """(decisions, planned contacts) of ``as_of``."""
    from overdue.strategy.decide import decide_all

    result = decide_all(
        snapshot, scores, customers, events, spec, as_of, history_state, flags=flags
    )
    return result.decisions, result.planned


def gate(planned: pa.Table, history: Any, flags: pa.Table, profile: Any) -> pa.Table:
    """The planned contacts plus ``allowed`` and ``blocked_rule``."""
    from overdue.compliance.gate import check

    return check(planned, history, flags, profile)


def new_history(*, keep_blocked: bool = True) -> Any:
    from overdue.compliance.gate import ContactHistory

    return ContactHistory(keep_blocked=keep_blocked)


def record(history: Any, outcomes: pa.Table) -> None:
    history.record(outcomes)


def outcomes_table(batch: Any) -> pa.Table:
    """What the gate's history needs of the contacts made: the plan plus their outcomes."""
    sent = batch.contacts
    return (
        sent.drop_columns([c for c in ("allowed", "blocked_rule") if c in sent.column_names])
        .append_column("connected", pa.array(batch.connected))
        .append_column("right_party", pa.array(batch.right_party))
        .append_column("conversation", pa.array(batch.conversation))
        .append_column("promise", pa.array(batch.promise))
        .append_column("complaint", pa.array(batch.complaint))
    )


def unanswered(sent: pa.Table) -> pa.Table:
    """Attempts whose outcome is unknown, counted as made and not answered."""
    n = sent.num_rows
    false = pa.array(np.zeros(n, dtype=np.bool_))
    table = sent.drop_columns([c for c in ("allowed", "blocked_rule") if c in sent.column_names])
    for name in ("connected", "right_party", "conversation", "promise", "complaint"):
        table = table.append_column(name, false)
    table = table.append_column("attempted_at_utc", sent["planned_at_utc"])
    return table.append_column("outcome", pa.array(["unknown"] * n, pa.string()))


def renderer(links: SelfServiceLinks | None = None) -> Any:
    """The shipped templates' renderer: planned row → (subject, body) in the row's language;
    with ``links``, each message to the debtor carries the debtor's own self-service page."""
    from overdue.contact.render import render_planned

    if links is None:
        return render_planned
    return lambda row: render_planned(row, links.url(str(row["customer_id"])))


@dataclass(frozen=True)
class SelfServiceLinks:
    """Signs each debtor's self-service link (``cases.self_service_links``) for the day."""

    base_url: str
    secret: str
    as_of: date

    def url(self, customer_id: str) -> str:
        from overdue.cases.self_service_links import issue_token

        token = issue_token(self.secret, customer_id, as_of=self.as_of)
        return f"{self.base_url.rstrip('/')}/self/{token}"


def enqueue(store_url: str, allowed: pa.Table, render: Any = None) -> tuple[int, int]:
    """Allowed contacts into the store's outbox (idempotent on the contact id).

    Every row carries its rendered subject and body (``render``, default the shipped
    templates); ``created_at`` is the start of the contacts' business date (UTC), never the
    wall clock."""
    from overdue.contact.outbox import enqueue as put
    from overdue.contact.outbox import rows_from_planned
    from overdue.store.db import make_engine, session_scope

    if allowed.num_rows == 0:
        return 0, 0
    rows = rows_from_planned(allowed, render or renderer())
    with session_scope(make_engine(store_url)) as session:
        result = put(session, rows, now=business_instant(allowed))
    return int(result.inserted), int(result.duplicates)


def business_instant(planned: pa.Table) -> datetime:
    """Midnight UTC of the planned contacts' business date (``as_of``; one date a batch)."""
    days = pc.unique(planned.column("as_of")).to_pylist()
    assert len(days) == 1 and isinstance(days[0], date), f"one as_of per batch, got {days}"
    return datetime.combine(days[0], time(0), tzinfo=UTC)


def scoring_handoff() -> AccountHandoff:
    """An ``AccountHandoff`` that keeps the account columns the daily scoring reads (for
    ``run_eod`` and then ``score``)."""
    items = importlib.import_module("overdue.scoring.daily_items")
    return AccountHandoff(items.INPUT_SCHEMA.names)


def score(
    models: Path, snapshots: Path, as_of: date, book: Path, engine: str,
    handoff: AccountHandoff | None = None,
) -> pa.Table:  # fmt: skip
    """The models helper's scores for the snapshot of ``as_of`` (written under ``scores/``);
    ``handoff``: the account rows the batch of this process wrote (read instead of the files)."""
    from overdue.portfolio.eod import snapshot_path

    scoring = importlib.import_module("overdue.scoring.score_eod")
    scoring.score_snapshot(snapshots, as_of, models, engine, book_dir=book, handoff=handoff)
    folder = snapshot_path(snapshots, as_of) / "scores"
    table: pa.Table = pq.read_table(folder, schema=scoring.SCORE_SCHEMA)
    return table

"""Decisions: for every account on ``as_of``, its segment, arm and the contacts it gets today.

:func:`decide` returns the planned contacts (contracts.md shape 2); :func:`decide_all` also
returns the decisions table, one row per planned contact and one row (action ``none``) for every
account that gets none today — hold-out, no segment path, no step due, a stop rule, or channel
capacity — each with its reason. Everything is vectorised over accounts: the loops run over the
spec's segments, arms and steps, never over rows (except hashing ids).

Channel capacities are filled in priority order (1 first; the step's priority overrides its
segment's), then larger balance first, then contact id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from overdue.compliance.clock import utc_for_local
from overdue.contact.render import education_columns
from overdue.domain.policy import Policy
from overdue.strategy.arms import HOLDOUT, assign_arms
from overdue.strategy.segments import AccountFrame, account_frame, matches
from overdue.strategy.spec import Step, StrategySpec

MAX_PLANNED_PER_DAY: Final = 20_000_000
MAX_REPEATS_PER_TRIGGER_STEP: Final = 400
NONE_ACTION: Final = "none"

PLANNED_SCHEMA: Final = pa.schema(
    [
        ("contact_id", pa.string()),
        ("as_of", pa.date32()),
        ("customer_id", pa.string()),
        ("account_id", pa.string()),
        ("channel", pa.string()),
        ("to_address", pa.string()),
        ("recipient_kind", pa.string()),
        ("planned_at_utc", pa.timestamp("us", tz="UTC")),
        ("time_zone", pa.string()),
        ("language", pa.string()),
        ("template", pa.string()),
        ("tone", pa.string()),
        ("strategy", pa.string()),
        ("strategy_version", pa.string()),
        ("segment", pa.string()),
        ("arm", pa.string()),
        ("step_id", pa.string()),
        ("priority", pa.int32()),
        ("reason", pa.string()),
    ]
)

DECISION_SCHEMA: Final = pa.schema(
    [
        ("as_of", pa.date32()),
        ("account_id", pa.string()),
        ("customer_id", pa.string()),
        ("strategy", pa.string()),
        ("strategy_version", pa.string()),
        ("segment", pa.string()),
        ("arm", pa.string()),
        ("action", pa.string()),  # "<channel>:<step_id>" or "none"
        ("contact_id", pa.string()),  # empty for "none"
        ("reason", pa.string()),
    ]
)

_ADDRESS_COLUMN: Final = {
    "push": "push_token",
    "sms": "phone",
    "voice_robot": "phone",
    "voice_agent": "phone",
    "email": "email",
    "letter": "postal_address",
    "field_visit": "postal_address",
    "legal": "postal_address",
    "agency": "",
}
_ADDRESS_FALLBACK: Final = {
    "push_token": "push:{}",
    "phone": "tel:{}",
    "email": "{}@customers.invalid",
    "postal_address": "post:{}",
    "emergency_phone": "tel:ec-{}",
    "": "agency:{}",
}


class DecisionResult(NamedTuple):
    planned: pa.Table  # PLANNED_SCHEMA
    decisions: pa.Table  # DECISION_SCHEMA


def contact_id(as_of: date, account_id: str, step_id: str, channel: str) -> str:
    """sha256 of ``as_of|account_id|step_id|channel``, first 32 hex characters (the outbox key)."""
    text = f"{as_of.isoformat()}|{account_id}|{step_id}|{channel}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def step_fires(step: Step, offset: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Rows whose day offset is one of the step's days."""
    if step.repeat_every_days is None:
        return offset == step.day
    last = step.until_day if step.until_day is not None else step.day + 3650
    return (
        (offset >= step.day)
        & (offset <= last)
        & ((offset - step.day) % step.repeat_every_days == 0)
    )


def stop_mask(
    step: Step, frame: AccountFrame
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.object_]]:
    """Rows a stop rule of the step stops, and the first rule that stops each."""
    stopped = np.zeros(frame.size, dtype=bool)
    rule = np.full(frame.size, "", dtype=object)
    for name in step.stop:
        if name == "paid":
            hit = frame.balance_fen <= 0
        elif name == "promise_pending":
            hit = frame.promise_pending
        else:  # dispute, hardship
            hit = frame.flags[name]
        rule[hit & ~stopped] = name
        stopped |= hit
    return stopped, rule


@dataclass
class _Candidates:
    """Planned contacts before capacity, as parallel lists of row arrays."""

    rows: list[npt.NDArray[np.int64]] = field(default_factory=list)
    steps: list[tuple[Step, str, str, int, int]] = field(default_factory=list)
    # (step, segment, path name, priority, send minute) per block

    def add(
        self, rows: npt.NDArray[np.int64], step: Step, segment: str, path: str, prio: int
    ) -> None:
        for minute in step.send_minutes():
            self.rows.append(rows)
            self.steps.append((step, segment, path, prio, minute))


def _segments(spec: StrategySpec, frame: AccountFrame) -> npt.NDArray[np.object_]:
    segment = np.full(frame.size, "", dtype=object)
    for seg in spec.ordered_segments():
        hit = matches(seg.when, frame) & (segment == "")
        segment[hit] = seg.name
    return segment


def _day_offset(frame: AccountFrame) -> npt.NDArray[np.int64]:
    """DPD once past due, else −(days to the next due date); a huge negative when neither."""
    pre = np.where(frame.has_due, -frame.days_to_due, -(10**6))
    return np.where(frame.dpd > 0, frame.dpd, pre)


def decide_all(
    snapshot: pa.Table,
    scores: pa.Table | None,
    customers: pa.Table,
    events: pa.Table | None,
    spec: StrategySpec,
    as_of: date,
    history_state: pa.Table | None = None,
    *,
    flags: pa.Table | None = None,
    accounts: pa.Table | None = None,
    policies: Mapping[tuple[str, str], Policy] | None = None,
    education: bool = True,
) -> DecisionResult:
    """Planned contacts and every account's decision for ``as_of`` (see the module docstring).

    With ``education`` the planned rows also carry the message amounts
    (:data:`overdue.contact.render.EDUCATION_SCHEMA`: name, currency, DPD, due date, amount due,
    penalty so far and in 7 days), from ``accounts`` (currency) and ``policies``.
    """
    frame = account_frame(snapshot, scores, customers, as_of, flags, history_state)
    arms = np.array(
        assign_arms(
            frame.customer_id,
            spec.experiment.salt,
            spec.experiment.holdout_share,
            spec.experiment.arm_shares(),
        ).to_pylist(),
        dtype=object,
    )
    segment = _segments(spec, frame)
    offset = _day_offset(frame)
    why_none = np.full(frame.size, "", dtype=object)
    why_none[segment == ""] = "no segment matches"
    why_none[arms == HOLDOUT] = "hold-out: no contact"
    candidates = _Candidates()
    for seg in spec.ordered_segments():
        for arm, _ in spec.experiment.arm_shares():
            in_group = (segment == seg.name) & (arms == arm)
            if not in_group.any():
                continue
            path_name = spec.path_for(seg.name, arm)
            if path_name is None:
                why_none[in_group] = f"segment {seg.name}: no contact path"
                continue
            _plan_path(
                spec,
                frame,
                path_name,
                seg.name,
                seg.priority,
                in_group,
                offset,
                candidates,
                why_none,
            )
    _plan_triggers(spec, frame, events, arms, candidates)
    planned, dropped = _build(spec, frame, segment, arms, offset, candidates)
    decisions = _decisions(spec, frame, segment, arms, planned, dropped, why_none, offset)
    if education:
        extra = education_columns(
            planned, snapshot, as_of, customers=customers, accounts=accounts, policies=policies
        )
        for name in extra.column_names:
            planned = planned.append_column(name, extra.column(name))
    return DecisionResult(planned, decisions)


def decide(
    snapshot: pa.Table,
    scores: pa.Table | None,
    customers: pa.Table,
    events: pa.Table | None,
    spec: StrategySpec,
    as_of: date,
    history_state: pa.Table | None = None,
    *,
    flags: pa.Table | None = None,
    accounts: pa.Table | None = None,
    policies: Mapping[tuple[str, str], Policy] | None = None,
    education: bool = True,
) -> pa.Table:
    """The planned contacts of ``as_of`` (contracts.md shape 2); see :func:`decide_all`."""
    return decide_all(
        snapshot,
        scores,
        customers,
        events,
        spec,
        as_of,
        history_state,
        flags=flags,
        accounts=accounts,
        policies=policies,
        education=education,
    ).planned


def _plan_path(
    spec: StrategySpec,
    frame: AccountFrame,
    path_name: str,
    segment: str,
    priority: int,
    in_group: npt.NDArray[np.bool_],
    offset: npt.NDArray[np.int64],
    candidates: _Candidates,
    why_none: npt.NDArray[np.object_],
) -> None:
    any_fired = np.zeros(frame.size, dtype=bool)
    for step in spec.paths[path_name].steps:
        due = in_group & step_fires(step, offset) & matches(step.when, frame)
        stopped, rule = stop_mask(step, frame)
        blocked = due & stopped
        why_none[blocked & ~any_fired] = [
            f"step {step.id} stopped: {r}" for r in rule[blocked & ~any_fired]
        ]
        fire = due & ~stopped
        any_fired |= fire
        if fire.any():
            prio = step.priority if step.priority is not None else priority
            candidates.add(np.flatnonzero(fire), step, segment, path_name, prio)
    quiet = in_group & ~any_fired & (why_none == "")
    why_none[quiet] = f"segment {segment}: no step of path {path_name} due today"


def _plan_triggers(
    spec: StrategySpec,
    frame: AccountFrame,
    events: pa.Table | None,
    arms: npt.NDArray[np.object_],
    candidates: _Candidates,
) -> None:
    from overdue.strategy.early_warning import events_today

    if events is None or events.num_rows == 0:
        return
    for trigger in sorted(spec.triggers, key=lambda t: t.priority):
        eligible = (arms != HOLDOUT) & matches(trigger.when, frame)
        for step in spec.paths[trigger.path].steps:
            days = _trigger_days(step)
            since = events_today(events, frame.account_id, trigger.event, frame.as_of, days)
            fire = eligible & (since >= 0) & matches(step.when, frame)
            fire &= ~stop_mask(step, frame)[0]
            if fire.any():
                prio = step.priority if step.priority is not None else trigger.priority
                candidates.add(
                    np.flatnonzero(fire), step, f"trigger:{trigger.name}", trigger.path, prio
                )


def _trigger_days(step: Step) -> list[int]:
    if step.repeat_every_days is None:
        return [max(step.day, 0)]
    last = step.until_day if step.until_day is not None else step.day
    days = list(range(max(step.day, 0), last + 1, step.repeat_every_days))
    return days[:MAX_REPEATS_PER_TRIGGER_STEP]


def _address(frame: AccountFrame, rows: npt.NDArray[np.int64], step: Step) -> list[str]:
    column = "emergency_phone" if step.recipient == "third_party" else _ADDRESS_COLUMN[step.channel]
    pattern = _ADDRESS_FALLBACK[column]
    values = frame.text[column][rows] if column else np.full(rows.size, "", dtype=object)
    customers = frame.customer_id.take(pa.array(rows)).to_pylist()
    return [v if v else pattern.format(c) for v, c in zip(values, customers, strict=True)]


def _build(
    spec: StrategySpec,
    frame: AccountFrame,
    segment: npt.NDArray[np.object_],
    arms: npt.NDArray[np.object_],
    offset: npt.NDArray[np.int64],
    candidates: _Candidates,
) -> tuple[pa.Table, pa.Table]:
    """The planned contacts within capacity, and the ones capacity dropped."""
    total = sum(r.size for r in candidates.rows)
    assert total <= MAX_PLANNED_PER_DAY, f"{total} planned contacts exceed the daily limit"
    cols: dict[str, list[object]] = {name: [] for name in PLANNED_SCHEMA.names}
    balance: list[npt.NDArray[np.int64]] = []
    account_ids = np.array(frame.account_id.to_pylist(), dtype=object)
    customer_ids = np.array(frame.customer_id.to_pylist(), dtype=object)
    zone_cache: dict[tuple[str, int], int] = {}
    for rows, (step, seg_name, path, prio, minute) in zip(
        candidates.rows, candidates.steps, strict=True
    ):
        step_id = step.id if len(step.at) == 1 else f"{step.id}@{minute // 60:02d}{minute % 60:02d}"
        accounts = account_ids[rows]
        zones = frame.text["time_zone"][rows]
        utc = []
        for tz in zones:
            key = (tz, minute)
            if key not in zone_cache:
                zone_cache[key] = utc_for_local(frame.as_of, minute, tz)
            utc.append(zone_cache[key])
        n = rows.size
        cols["contact_id"] += [contact_id(frame.as_of, a, step_id, step.channel) for a in accounts]
        cols["as_of"] += [frame.as_of] * n
        cols["customer_id"] += list(customer_ids[rows])
        cols["account_id"] += list(accounts)
        cols["channel"] += [step.channel] * n
        cols["to_address"] += _address(frame, rows, step)
        cols["recipient_kind"] += [step.recipient] * n
        cols["planned_at_utc"] += utc
        cols["time_zone"] += list(zones)
        cols["language"] += list(frame.text["language"][rows])
        cols["template"] += [step.template_name] * n
        cols["tone"] += [step.tone] * n
        cols["strategy"] += [spec.name] * n
        cols["strategy_version"] += [spec.strategy_version] * n
        cols["segment"] += [seg_name] * n
        cols["arm"] += list(arms[rows])
        cols["step_id"] += [step_id] * n
        cols["priority"] += [prio] * n
        cols["reason"] += [
            f"segment {seg_name}, path {path}, step {step.id} on day {d:+d}" for d in offset[rows]
        ]
        balance.append(frame.balance_fen[rows])
    arrays = [
        pa.array(cols[f.name], type=pa.int64() if f.name == "planned_at_utc" else f.type)
        for f in PLANNED_SCHEMA
    ]
    arrays[PLANNED_SCHEMA.get_field_index("planned_at_utc")] = arrays[
        PLANNED_SCHEMA.get_field_index("planned_at_utc")
    ].cast(pa.timestamp("us", tz="UTC"))
    table = pa.Table.from_arrays(arrays, schema=PLANNED_SCHEMA)
    bal = np.concatenate(balance) if balance else np.zeros(0, dtype=np.int64)
    keep = _within_capacity(table, bal, spec.daily_limits())
    return table.filter(pa.array(keep)), table.filter(pa.array(~keep))


def _within_capacity(
    table: pa.Table, balance_fen: npt.NDArray[np.int64], limits: dict[str, int]
) -> npt.NDArray[np.bool_]:
    """Rows kept by each channel's daily limit, in priority, then balance, then id order."""
    n = table.num_rows
    keep = np.ones(n, dtype=bool)
    if n == 0 or not limits:
        return keep
    channel = np.array(table.column("channel").to_pylist(), dtype=object)
    prio = table.column("priority").to_numpy()
    ids = np.array(table.column("contact_id").to_pylist(), dtype=object)
    order = np.lexsort((ids, -balance_fen, prio))
    for name, limit in limits.items():
        in_channel = order[channel[order] == name]
        keep[in_channel[limit:]] = False
    return keep


def _decisions(
    spec: StrategySpec,
    frame: AccountFrame,
    segment: npt.NDArray[np.object_],
    arms: npt.NDArray[np.object_],
    planned: pa.Table,
    dropped: pa.Table,
    why_none: npt.NDArray[np.object_],
    offset: npt.NDArray[np.int64],
) -> pa.Table:
    """One row per planned contact, per capacity drop, and per account without a contact."""
    n_planned = planned.num_rows
    contacted = set(planned.column("account_id").to_pylist())
    dropped_accounts = dropped.column("account_id").to_pylist()
    account_ids = frame.account_id.to_pylist()
    seen = contacted | set(dropped_accounts)
    idle = [i for i, a in enumerate(account_ids) if a not in seen]
    idle_why = [why_none[i] or f"no step due today (day {offset[i]:+d})" for i in idle]
    cols: dict[str, list[Any]] = {
        "as_of": [frame.as_of] * (n_planned + dropped.num_rows + len(idle)),
        "account_id": planned.column("account_id").to_pylist()
        + dropped_accounts
        + [account_ids[i] for i in idle],
        "customer_id": planned.column("customer_id").to_pylist()
        + dropped.column("customer_id").to_pylist()
        + frame.customer_id.take(pa.array(idle, type=pa.int64())).to_pylist(),
        "segment": planned.column("segment").to_pylist()
        + dropped.column("segment").to_pylist()
        + [segment[i] for i in idle],
        "arm": planned.column("arm").to_pylist()
        + dropped.column("arm").to_pylist()
        + [arms[i] for i in idle],
        "action": [
            f"{c}:{s}"
            for c, s in zip(
                planned.column("channel").to_pylist(),
                planned.column("step_id").to_pylist(),
                strict=True,
            )
        ]
        + [NONE_ACTION] * (dropped.num_rows + len(idle)),
        "contact_id": planned.column("contact_id").to_pylist()
        + [""] * (dropped.num_rows + len(idle)),
        "reason": planned.column("reason").to_pylist()
        + [
            f"capacity: {c} full ({s})"
            for c, s in zip(
                dropped.column("channel").to_pylist(),
                dropped.column("step_id").to_pylist(),
                strict=True,
            )
        ]
        + idle_why,
    }
    total = len(cols["account_id"])
    cols["strategy"] = [spec.name] * total
    cols["strategy_version"] = [spec.strategy_version] * total
    return pa.Table.from_pydict(cols, schema=DECISION_SCHEMA)

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
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from overdue.compliance.clock import utc_for_local
from overdue.contact.keys import KEY_LENGTH_HEX, contact_key
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
_ADDRESS_FALLBACK: Final = {  # (prefix, suffix) around the customer id when no address is known
    "push_token": ("push:", ""),
    "phone": ("tel:", ""),
    "email": ("", "@customers.invalid"),
    "postal_address": ("post:", ""),
    "emergency_phone": ("tel:ec-", ""),
    "": ("agency:", ""),
}


class DecisionResult(NamedTuple):
    planned: pa.Table  # PLANNED_SCHEMA
    decisions: pa.Table  # DECISION_SCHEMA


def contact_id(as_of: date, account_id: str, step_id: str, channel: str) -> str:
    """The outbox idempotency key of a planned contact (one definition: ``contact.keys``)."""
    return contact_key(as_of, account_id, step_id, channel)


def contact_ids(as_of: date, account_ids: pa.Array, step_id: str, channel: str) -> list[str]:
    """:func:`contact_id` of many accounts for one step and channel (the same sha256 text,
    checked once per block instead of once per row; tests compare it with ``contact_key``)."""
    for name, value in (("step_id", step_id), ("channel", channel)):
        if "|" in value:
            raise ValueError(f"{name}: {value!r} must not contain '|'")
    if len(account_ids) and pc.any(pc.match_substring(account_ids, "|")).as_py():
        raise ValueError("account_id: an id must not contain '|'")
    head, tail = f"{as_of.isoformat()}|", f"|{step_id}|{channel}"
    sha = hashlib.sha256
    return [
        sha(f"{head}{a}{tail}".encode()).hexdigest()[:KEY_LENGTH_HEX]
        for a in account_ids.to_pylist()
    ]


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


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise text concatenation of arrays and constant strings."""
    return pc.binary_join_element_wise(*parts, "")


def _address(
    frame: AccountFrame, rows: npt.NDArray[np.int64], step: Step, customers: pa.Array
) -> pa.Array:
    column = "emergency_phone" if step.recipient == "third_party" else _ADDRESS_COLUMN[step.channel]
    prefix, suffix = _ADDRESS_FALLBACK[column]
    fallback = _join(prefix, customers, suffix)
    if not column:
        return fallback
    given = pa.array(frame.text[column][rows], type=pa.string())
    return pc.if_else(pc.greater(pc.utf8_length(given), 0), given, fallback)


def _const(value: object, n: int, kind: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, type=kind), n)


def _block(
    spec: StrategySpec,
    frame: AccountFrame,
    arms: npt.NDArray[np.object_],
    offset: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    block: tuple[Step, str, str, int, int],
    zone_utc: dict[int, npt.NDArray[np.int64]],
    zone_codes: npt.NDArray[np.int64],
) -> pa.Table:
    """The planned rows of one (step, send time) block."""
    step, seg_name, path, prio, minute = block
    n = rows.size
    step_id = step.id if len(step.at) == 1 else f"{step.id}@{minute // 60:02d}{minute % 60:02d}"
    if seg_name.startswith("trigger:"):  # a trigger's steps never share ids with a path's
        step_id = f"{seg_name.removeprefix('trigger:')}.{step_id}"
    take = pa.array(rows, type=pa.int64())
    accounts = frame.account_id.take(take)
    customers = frame.customer_id.take(take)
    ids = contact_ids(frame.as_of, accounts, step_id, step.channel)
    utc = zone_utc[minute][zone_codes[rows]]
    days, at = np.unique(offset[rows], return_inverse=True)
    day_text = pa.array([f"{d:+d}" for d in days.tolist()], type=pa.string())
    reason = _join(
        f"segment {seg_name}, path {path}, step {step.id} on day ",
        day_text.take(pa.array(at.reshape(-1), type=pa.int64())),
    )
    columns = {
        "contact_id": pa.array(ids, type=pa.string()),
        "as_of": _const(frame.as_of, n, pa.date32()),
        "customer_id": customers,
        "account_id": accounts,
        "channel": _const(step.channel, n, pa.string()),
        "to_address": _address(frame, rows, step, customers),
        "recipient_kind": _const(step.recipient, n, pa.string()),
        "planned_at_utc": pa.array(utc, type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "time_zone": pa.array(frame.text["time_zone"][rows], type=pa.string()),
        "language": pa.array(frame.text["language"][rows], type=pa.string()),
        "template": _const(step.template_name, n, pa.string()),
        "tone": _const(step.tone, n, pa.string()),
        "strategy": _const(spec.name, n, pa.string()),
        "strategy_version": _const(spec.strategy_version, n, pa.string()),
        "segment": _const(seg_name, n, pa.string()),
        "arm": pa.array(arms[rows], type=pa.string()),
        "step_id": _const(step_id, n, pa.string()),
        "priority": _const(prio, n, pa.int32()),
        "reason": reason,
    }
    return pa.table(columns, schema=PLANNED_SCHEMA)


def _build(
    spec: StrategySpec,
    frame: AccountFrame,
    segment: npt.NDArray[np.object_],
    arms: npt.NDArray[np.object_],
    offset: npt.NDArray[np.int64],
    candidates: _Candidates,
) -> tuple[pa.Table, pa.Table]:
    """The planned contacts within capacity, and the ones capacity dropped."""
    del segment
    total = sum(r.size for r in candidates.rows)
    assert total <= MAX_PLANNED_PER_DAY, f"{total} planned contacts exceed the daily limit"
    encoded = pc.dictionary_encode(pa.array(frame.text["time_zone"], type=pa.string()))
    zone_names = encoded.dictionary.to_pylist()
    zone_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    zone_utc = {
        minute: np.array([utc_for_local(frame.as_of, minute, z) for z in zone_names], np.int64)
        for minute in {block[4] for block in candidates.steps}
    }
    blocks = [
        _block(spec, frame, arms, offset, rows, block, zone_utc, zone_codes)
        for rows, block in zip(candidates.rows, candidates.steps, strict=True)
    ]
    table = pa.concat_tables(blocks) if blocks else PLANNED_SCHEMA.empty_table()
    balance = [frame.balance_fen[rows] for rows in candidates.rows]
    bal = np.concatenate(balance) if balance else np.zeros(0, dtype=np.int64)
    first = _first_of_each_id(table)
    if not first.all():  # two segments/triggers planned the same contact: keep the first
        table, bal = table.filter(pa.array(first)), bal[first]
    keep = _within_capacity(table, bal, spec.daily_limits())
    return table.filter(pa.array(keep)), table.filter(pa.array(~keep))


def _first_of_each_id(table: pa.Table) -> npt.NDArray[np.bool_]:
    codes = pc.dictionary_encode(table.column("contact_id").combine_chunks()).indices
    _, first = np.unique(codes.to_numpy(zero_copy_only=False), return_index=True)
    keep = np.zeros(table.num_rows, dtype=bool)
    keep[first] = True
    return keep


def _within_capacity(
    table: pa.Table, balance_fen: npt.NDArray[np.int64], limits: dict[str, int]
) -> npt.NDArray[np.bool_]:
    """Rows kept by each channel's daily limit, in priority, then balance, then id order."""
    n = table.num_rows
    keep = np.ones(n, dtype=bool)
    if n == 0 or not limits:
        return keep
    keyed = pa.table(
        {
            "priority": table.column("priority"),
            "minus_balance": pa.array(-balance_fen),
            "contact_id": table.column("contact_id"),
        }
    )
    order = pc.sort_indices(
        keyed,
        sort_keys=[
            ("priority", "ascending"),
            ("minus_balance", "ascending"),
            ("contact_id", "ascending"),
        ],
    ).to_numpy()
    channel = table.column("channel")
    for name, limit in limits.items():
        in_channel = pc.equal(channel, name).to_numpy(zero_copy_only=False)
        ranked = order[in_channel[order]]
        keep[ranked[limit:]] = False
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
    seen = pa.concat_arrays(
        [
            planned.column("account_id").combine_chunks(),
            dropped.column("account_id").combine_chunks(),
        ]
    )
    idle = ~pc.is_in(frame.account_id, value_set=seen).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(idle)
    idle_why = [
        why or f"no step due today (day {off:+d})"
        for why, off in zip(why_none[rows].tolist(), offset[rows].tolist(), strict=True)
    ]
    take = pa.array(rows, type=pa.int64())
    parts = [
        _decision_part(
            planned,
            _join(
                planned.column("channel").combine_chunks(),
                ":",
                planned.column("step_id").combine_chunks(),
            ),
            planned.column("contact_id").combine_chunks(),
            planned.column("reason").combine_chunks(),
        ),
        _decision_part(
            dropped,
            _const(NONE_ACTION, dropped.num_rows, pa.string()),
            _const("", dropped.num_rows, pa.string()),
            _join(
                "capacity: ",
                dropped.column("channel").combine_chunks(),
                " full (",
                dropped.column("step_id").combine_chunks(),
                ")",
            ),
        ),
        pa.table(
            {
                "account_id": frame.account_id.take(take),
                "customer_id": frame.customer_id.take(take),
                "segment": pa.array(segment[rows], type=pa.string()),
                "arm": pa.array(arms[rows], type=pa.string()),
                "action": _const(NONE_ACTION, rows.size, pa.string()),
                "contact_id": _const("", rows.size, pa.string()),
                "reason": pa.array(idle_why, type=pa.string()),
            }
        ),
    ]
    body = pa.concat_tables(parts)
    total = body.num_rows
    return pa.table(
        {
            "as_of": _const(frame.as_of, total, pa.date32()),
            "account_id": body.column("account_id"),
            "customer_id": body.column("customer_id"),
            "strategy": _const(spec.name, total, pa.string()),
            "strategy_version": _const(spec.strategy_version, total, pa.string()),
            "segment": body.column("segment"),
            "arm": body.column("arm"),
            "action": body.column("action"),
            "contact_id": body.column("contact_id"),
            "reason": body.column("reason"),
        },
        schema=DECISION_SCHEMA,
    )


def _decision_part(table: pa.Table, action: pa.Array, ids: pa.Array, reason: pa.Array) -> pa.Table:
    return pa.table(
        {
            "account_id": table.column("account_id").combine_chunks(),
            "customer_id": table.column("customer_id").combine_chunks(),
            "segment": table.column("segment").combine_chunks(),
            "arm": table.column("arm").combine_chunks(),
            "action": action,
            "contact_id": ids,
            "reason": reason,
        }
    )

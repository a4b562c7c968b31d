"""Agencies under the same caps: each debtor's remaining allowance, and an audit of their reports.

The caps count the lender and all its agencies together. :func:`agency_allowance` tells each
agency, in its placement file, how many calls a debtor may still get today (and until when a
recent conversation bars calls); :func:`audit_agency_contacts` replays the contacts agencies
report back against the whole history and flags every breach with its rule, per agency.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from overdue.compliance.clock import local_parts
from overdue.compliance.gate import RULES
from overdue.compliance.history import ContactHistory, normalise_attempts
from overdue.compliance.profile import Profile
from overdue.strategy.early_warning import day_number

MAX_AUDIT_ROWS: Final = 5_000_000
UNLIMITED: Final = 999

ALLOWANCE_SCHEMA: Final = pa.schema(
    [
        ("customer_id", pa.string()),
        ("as_of", pa.date32()),
        ("remaining_calls_today", pa.int32()),
        ("calls_barred_until", pa.date32()),  # null when no recent conversation bars calls
    ]
)


def _np(table: pa.Table, name: str) -> np.ndarray:
    return np.array(table.column(name).to_pylist(), dtype=object)


def agency_allowance(
    history: ContactHistory, customers: pa.Table, as_of: date, profile: Profile
) -> pa.Table:
    """Per customer: the calls still allowed on ``as_of`` (local day) across lender and agencies.

    cn: the daily connected-call cap minus today's connected debtor calls. us: the seven-day
    attempt cap minus the attempts of the last 7 days (the busiest of the debtor's debts), and
    0 while a conversation of the last ``post_conversation_days`` days bars calls.
    """
    today = day_number(as_of)
    window = max(profile.call_window_days, profile.post_conversation_days or 0)
    hist = history.window(today - window + 1, today)
    ids = customers.column("customer_id").to_pylist()
    remaining = {cid: UNLIMITED for cid in ids}
    barred: dict[str, date | None] = {cid: None for cid in ids}
    calls = hist.filter(
        pc.and_(
            pc.is_in(hist.column("channel"), value_set=pa.array(profile.call_channels)),
            pc.equal(hist.column("recipient_kind"), "debtor"),
        )
    )
    days = pc.cast(calls.column("local_date"), pa.int32()).to_numpy(zero_copy_only=False)
    cust, acct = _np(calls, "customer_id"), _np(calls, "account_id")
    connected = calls.column("connected").to_numpy(zero_copy_only=False)
    conversation = calls.column("conversation").to_numpy(zero_copy_only=False)
    if profile.max_connected_calls_per_day is not None:
        used: dict[str, int] = defaultdict(int)
        for c, d, ok in zip(cust, days, connected, strict=True):
            if d == today and ok:
                used[c] += 1
        for cid in ids:
            left = profile.max_connected_calls_per_day - used[cid]
            remaining[cid] = min(remaining[cid], max(0, left))
    if profile.max_call_attempts_per_debt is not None:
        per_debt: dict[tuple[str, str], int] = defaultdict(int)
        for c, a, d in zip(cust, acct, days, strict=True):
            if today - d < profile.call_window_days:
                per_debt[(c, a)] += 1
        busiest: dict[str, int] = defaultdict(int)
        for (c, _), n in per_debt.items():
            busiest[c] = max(busiest[c], n)
        for cid in ids:
            left = profile.max_call_attempts_per_debt - busiest[cid]
            remaining[cid] = min(remaining[cid], max(0, left))
    if profile.post_conversation_days is not None:
        for c, d, conv in zip(cust, days, conversation, strict=True):
            if conv and today - d < profile.post_conversation_days and c in remaining:
                remaining[c] = 0
                until = date(1970, 1, 1) + timedelta(days=int(d) + profile.post_conversation_days)
                previous = barred[c]
                barred[c] = until if previous is None else max(previous, until)
    return pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "as_of": pa.array([as_of] * len(ids), pa.date32()),
            "remaining_calls_today": pa.array([remaining[c] for c in ids], pa.int32()),
            "calls_barred_until": pa.array([barred[c] for c in ids], pa.date32()),
        },
        schema=ALLOWANCE_SCHEMA,
    )


def audit_agency_contacts(
    reported: pa.Table, history: ContactHistory, profile: Profile
) -> pa.Table:
    """The reported contacts (normalised, ``source`` = agency) plus ``breach`` and
    ``breach_rule``: the first rule (gate order) each one broke, counted with every contact of
    the lender and all agencies before it and itself. Reported rows already in ``history``
    (same ``contact_id``) are not counted twice."""
    rep = normalise_attempts(reported)
    assert rep.num_rows <= MAX_AUDIT_ROWS, f"{rep.num_rows} reported contacts exceed the limit"
    if rep.num_rows == 0:
        return rep.append_column("breach", pa.array([], pa.bool_())).append_column(
            "breach_rule", pa.array([], pa.string())
        )
    rep_days = pc.cast(rep.column("local_date"), pa.int32()).to_numpy(zero_copy_only=False)
    reach = max(profile.call_window_days, profile.post_conversation_days or 0)
    hist = history.window(int(rep_days.min()) - reach, int(rep_days.max()))
    reported_ids = set(rep.column("contact_id").to_pylist()) - {""}
    if reported_ids and hist.num_rows:
        hist = hist.filter(pc.invert(pc.is_in(hist.column("contact_id"),
                                               value_set=pa.array(sorted(reported_ids)))))
    both = pa.concat_tables([hist, rep])
    is_reported = np.r_[np.zeros(hist.num_rows, bool), np.ones(rep.num_rows, bool)]
    rules = _replay(both, is_reported, profile)
    found = rules[hist.num_rows :]
    return rep.append_column("breach", pa.array([r != "" for r in found])).append_column(
        "breach_rule", pa.array(found, pa.string())
    )


def _replay(both: pa.Table, is_reported: np.ndarray, profile: Profile) -> list[str]:
    """Walk all contacts in time order; for reported ones, the first rule broken."""
    utc = pc.cast(both.column("attempted_at_utc"), pa.int64()).to_numpy(zero_copy_only=False)
    day, minute = local_parts(utc, _np(both, "time_zone"))
    rows = both.to_pylist()
    order = np.lexsort((np.arange(len(rows)), utc))
    conn: dict[tuple[str, int], int] = defaultdict(int)
    unans: dict[tuple[str, int], int] = defaultdict(int)
    attempts: dict[str, list[int]] = defaultdict(list)
    last_conv: dict[str, int] = {}
    out = [""] * len(rows)
    for i in order:
        r = rows[i]
        d = int(day[i])
        call = r["channel"] in profile.call_channels
        debtor_call = call and r["recipient_kind"] == "debtor"
        broken: list[str] = []
        if r["channel"] in profile.quiet_channels and profile.is_quiet(int(minute[i])):
            broken.append("quiet_hours")
        if debtor_call:
            conv_day = last_conv.get(r["account_id"])
            post = profile.post_conversation_days
            if post is not None and conv_day is not None and 0 <= d - conv_day < post:
                broken.append("post_conversation")
            recent = [x for x in attempts[r["account_id"]] if d - x < profile.call_window_days]
            cap = profile.max_call_attempts_per_debt
            if cap is not None and len(recent) + 1 > cap:
                broken.append("seven_in_seven")
            if r["connected"]:
                conn[(r["customer_id"], d)] += 1
            cap = profile.max_connected_calls_per_day
            if cap is not None and conn[(r["customer_id"], d)] > cap:
                broken.append("daily_connected_cap")
            attempts[r["account_id"]].append(d)
            if r["conversation"]:
                last_conv[r["account_id"]] = d
        if call and not r["connected"]:
            unans[(r["to_address"], d)] += 1
            cap = profile.max_unanswered_per_number_per_day
            if cap is not None and unans[(r["to_address"], d)] > cap:
                broken.append("unanswered_cap")
        if is_reported[i] and broken:
            out[i] = min(broken, key=RULES.index)
    return out


def breaches_by_agency(audited: pa.Table) -> dict[str, dict[str, int]]:
    """{agency: {rule: count}} of an :func:`audit_agency_contacts` result."""
    result: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for source, rule in zip(
        audited.column("source").to_pylist(), audited.column("breach_rule").to_pylist(), strict=True
    ):
        if rule:
            result[source][rule] += 1
    return {agency: dict(rules) for agency, rules in result.items()}

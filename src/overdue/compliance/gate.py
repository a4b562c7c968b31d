"""The compliance gate: every planned contact passes it, and each blocked one gets its rule.

:func:`check` returns the planned table plus ``allowed`` (bool) and ``blocked_rule`` (the FIRST
rule in :data:`RULES` order that blocks the contact; empty when allowed). The order is fixed:

 1. deceased, 2. bankruptcy, 3. do_not_contact, 4. cease_communication, 5. dispute
    (customer flags; every channel, every recipient)
 6. opt_out — the debtor opted out of this channel (``opt_out_<channel>``)
 7. vulnerable — only friendly messages by push, SMS, e-mail, letter or a human agent, to the
    debtor; 8. hardship — only friendly contacts, no field visit, agency or legal
 9. third_party_debt — a third party may only get a locate template (``*_locate``)
10. quiet_hours — the local send time (customer's time zone) falls in the profile's quiet window
11. third_party_locate_only — a third party only when the debtor was not reached (right-party
    contact) in the last ``third_party_locate_after_days`` days, at most
    ``max_third_party_per_day`` a debtor a day
12. post_conversation — (us) no call within N days after a conversation about the debt
13. seven_in_seven — (us) at most N call attempts per person per debt in any 7 days
14. daily_connected_cap — (cn) at most N connected calls per debtor per day
15. unanswered_cap — (cn) at most N unanswered call attempts per number per day

Rules 11–15 count the history (lender and agencies) and — sequentially, in ``planned_at_utc``
order — the contacts this batch has already allowed. A planned call has no outcome yet, so the
gate counts every allowed call as if it connected, reached the debtor and became a conversation
(and as unanswered for the per-number cap): whatever the outcomes, no allowed contact can break
a cap. The caps in the loop run compiled (numba) over integer keys; the rest is numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numba
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from overdue.compliance.clock import local_parts
from overdue.compliance.history import ContactHistory
from overdue.compliance.profile import Profile

__all__ = ["RULES", "ContactHistory", "check"]

RULES: Final[tuple[str, ...]] = (
    "",  # 0: allowed
    "deceased",
    "bankruptcy",
    "do_not_contact",
    "cease_communication",
    "dispute",
    "opt_out",
    "vulnerable",
    "hardship",
    "third_party_debt",
    "quiet_hours",
    "third_party_locate_only",
    "post_conversation",
    "seven_in_seven",
    "daily_connected_cap",
    "unanswered_cap",
)
CODE: Final = {name: i for i, name in enumerate(RULES)}
FLAG_RULES: Final = ("deceased", "bankruptcy", "do_not_contact", "cease_communication", "dispute")
VULNERABLE_CHANNELS: Final = ("push", "sms", "email", "letter", "voice_agent")
HARDSHIP_EXCLUDED: Final = ("field_visit", "agency", "legal")
MAX_BATCH_ROWS: Final = 20_000_000
_NEVER: Final = -(10**9)

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def _is_in(table: pa.Table, name: str, values: Sequence[str]) -> BoolArray:
    """Rows whose text column ``name`` is one of ``values`` (vectorised in Arrow)."""
    hit = pc.is_in(table.column(name), value_set=pa.array(list(values), type=pa.string()))
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False).astype(bool)


def _to_bool(values: pa.Array | pa.ChunkedArray) -> BoolArray:
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool)


def _flag_matrix(
    customer_id: pa.Array, flags: pa.Table | None, names: list[str]
) -> dict[str, BoolArray]:
    n = len(customer_id)
    out = {name: np.zeros(n, dtype=bool) for name in names}
    if flags is None or flags.num_rows == 0:
        return out
    known = pc.cast(flags.column("customer_id").combine_chunks(), pa.string())
    pos = pc.fill_null(pc.index_in(customer_id, value_set=known), -1).to_numpy(zero_copy_only=False)
    found = pos >= 0
    for name in names:
        if name in flags.column_names:
            values = _to_bool(pc.cast(flags.column(name), pa.bool_()))
            out[name][found] = values[pos[found]].astype(bool)
    return out


def _static_rules(
    planned: pa.Table,
    flags: pa.Table | None,
    profile: Profile,
    third: BoolArray,
    minute: IntArray,
) -> npt.NDArray[np.int8]:
    """Rules 1–10 (no counting), first failing rule per row."""
    n = planned.num_rows
    rule = np.zeros(n, dtype=np.int8)
    customer_id = planned.column("customer_id").combine_chunks()
    channels = sorted(str(c) for c in pc.unique(planned.column("channel")).to_pylist())
    names = [*FLAG_RULES, "vulnerable", "hardship"] + [f"opt_out_{c}" for c in channels]
    flag = _flag_matrix(customer_id, flags, names)

    def block(name: str, hit: BoolArray) -> None:
        rule[(rule == 0) & hit] = CODE[name]

    for name in FLAG_RULES:
        block(name, flag[name])
    opted = np.zeros(n, dtype=bool)
    for c in channels:
        if flag[f"opt_out_{c}"].any():
            opted |= _is_in(planned, "channel", [c]) & flag[f"opt_out_{c}"]
    block("opt_out", opted)
    friendly = _is_in(planned, "tone", ["friendly"])
    vulnerable_ok = friendly & _is_in(planned, "channel", VULNERABLE_CHANNELS) & ~third
    block("vulnerable", flag["vulnerable"] & ~vulnerable_ok)
    hardship_ok = friendly & ~_is_in(planned, "channel", HARDSHIP_EXCLUDED)
    block("hardship", flag["hardship"] & ~hardship_ok)
    locate = _to_bool(pc.ends_with(planned.column("template"), "_locate"))
    block("third_party_debt", third & ~locate)
    start, end = profile.quiet_start_minute, profile.quiet_end_minute
    if start <= end:
        quiet = (minute >= start) & (minute < end)
    else:
        quiet = (minute >= start) | (minute < end)
    block("quiet_hours", quiet & _is_in(planned, "channel", profile.quiet_channels))
    return rule


def _codes(*columns: pa.ChunkedArray) -> list[IntArray]:
    """Integer codes for text columns, shared between the columns of one call."""
    joined = pa.chunked_array(
        [chunk for col in columns for chunk in col.chunks], type=pa.string()
    ).combine_chunks()
    codes = pc.dictionary_encode(joined).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    out, start = [], 0
    for col in columns:
        out.append(codes[start : start + len(col)])
        start += len(col)
    return out


def _count_lookup(hist_key: IntArray, hist_mask: BoolArray, query: IntArray) -> IntArray:
    """How many history rows (where ``hist_mask``) have each query key."""
    keys = np.sort(hist_key[hist_mask])
    return np.searchsorted(keys, query, side="right") - np.searchsorted(keys, query, side="left")


def _last_day(
    hist_entity: IntArray, hist_day: IntArray, hist_mask: BoolArray, entity: IntArray
) -> IntArray:
    """The latest history day (where mask) per queried entity; _NEVER when none."""
    out = np.full(entity.size, _NEVER, dtype=np.int64)
    if not hist_mask.any():
        return out
    ent, day = hist_entity[hist_mask], hist_day[hist_mask]
    order = np.lexsort((day, ent))
    ent, day = ent[order], day[order]
    last = np.r_[ent[1:] != ent[:-1], True]
    ents, days = ent[last], day[last]
    pos = np.searchsorted(ents, entity)
    pos_ok = pos < ents.size
    hit = np.zeros(entity.size, dtype=bool)
    hit[pos_ok] = ents[pos[pos_ok]] == entity[pos_ok]
    out[hit] = days[pos[hit]]
    return out


@numba.njit(cache=True)
def _sequential_caps(
    order: IntArray,
    rule: npt.NDArray[np.int8],
    is_call: BoolArray,
    third: BoolArray,
    day: IntArray,
    cust: IntArray,
    cust_day: IntArray,
    num_day: IntArray,
    debt: IntArray,
    debt_day: IntArray,
    window_idx: IntArray,
    hist_rpc_last: IntArray,
    hist_conv_last: IntArray,
    hist_window: IntArray,
    hist_connected: IntArray,
    hist_unanswered: IntArray,
    hist_third: IntArray,
    n_cust: int,
    n_debt: int,
    limits: IntArray,
) -> None:
    """Rules 11–15 in planned order, counting what this batch already allowed (see module doc).

    ``limits`` = [locate_days, max_third, post_days, max_window, max_connected, max_unanswered],
    -1 where the profile has no such rule.
    """
    locate_days, max_third, post_days = limits[0], limits[1], limits[2]
    max_window, max_connected, max_unanswered = limits[3], limits[4], limits[5]
    batch_conn = np.zeros(hist_connected.size, dtype=np.int64)
    batch_unans = np.zeros(hist_unanswered.size, dtype=np.int64)
    batch_third = np.zeros(hist_third.size, dtype=np.int64)
    batch_debt_day = np.zeros(debt_day.max() + 1, dtype=np.int64)
    last_debtor_call = np.full(n_cust, -(10**9), dtype=np.int64)
    last_debt_call = np.full(n_debt, -(10**9), dtype=np.int64)
    width = window_idx.shape[1]
    for j in range(order.size):
        i = order[j]
        if rule[i] != 0:
            continue
        debtor_call = is_call[i] and not third[i]
        code = 0
        if third[i]:
            reached = max(hist_rpc_last[i], last_debtor_call[cust[i]])
            if (
                day[i] - reached < locate_days
                or hist_third[cust_day[i]] + batch_third[cust_day[i]] >= max_third
            ):
                code = 11
        if code == 0 and debtor_call and post_days > 0:
            last = max(hist_conv_last[i], last_debt_call[debt[i]])
            if 0 <= day[i] - last < post_days or last > day[i]:
                code = 12
        if code == 0 and debtor_call and max_window >= 0:
            total = hist_window[i]
            for k in range(width):
                idx = window_idx[i, k]
                if idx >= 0:
                    total += batch_debt_day[idx]
            if total >= max_window:
                code = 13
        connected = hist_connected[cust_day[i]] + batch_conn[cust_day[i]]
        if code == 0 and debtor_call and 0 <= max_connected <= connected:
            code = 14
        unanswered = hist_unanswered[num_day[i]] + batch_unans[num_day[i]]
        if code == 0 and is_call[i] and 0 <= max_unanswered <= unanswered:
            code = 15
        if code != 0:
            rule[i] = code
            continue
        if debtor_call:
            batch_conn[cust_day[i]] += 1
            batch_debt_day[debt_day[i]] += 1
            last_debt_call[debt[i]] = max(last_debt_call[debt[i]], day[i])
            last_debtor_call[cust[i]] = max(last_debtor_call[cust[i]], day[i])
        if is_call[i]:
            batch_unans[num_day[i]] += 1
        if third[i]:
            batch_third[cust_day[i]] += 1


def _key(entity: IntArray, day: IntArray, day0: int, span: int) -> IntArray:
    return entity * span + (day - day0)


def _cap_inputs(
    planned: pa.Table,
    history: ContactHistory,
    profile: Profile,
    day: IntArray,
    is_call: BoolArray,
    third: BoolArray,
) -> tuple[IntArray, ...]:
    """Integer keys and history counts for :func:`_sequential_caps`."""
    day0, day1 = int(day.min()), int(day.max())
    reach = max(
        profile.call_window_days,
        profile.post_conversation_days or 0,
        profile.third_party_locate_after_days,
        1,
    )
    hist = history.window(day0 - reach - 1, day1)
    p_cust, h_cust = _codes(planned.column("customer_id"), hist.column("customer_id"))
    p_acct, h_acct = _codes(planned.column("account_id"), hist.column("account_id"))
    p_num, h_num = _codes(planned.column("to_address"), hist.column("to_address"))
    h_day = (
        pc.cast(hist.column("local_date"), pa.int32())
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    h_call = _is_in(hist, "channel", profile.call_channels)
    h_third = _is_in(hist, "recipient_kind", ["third_party"])
    h_conn = (
        pc.fill_null(hist.column("connected"), False).to_numpy(zero_copy_only=False).astype(bool)
    )
    h_rp = (
        pc.fill_null(hist.column("right_party"), False).to_numpy(zero_copy_only=False).astype(bool)
    )
    h_conv = (
        pc.fill_null(hist.column("conversation"), False).to_numpy(zero_copy_only=False).astype(bool)
    )
    span = day1 - day0 + reach + 3
    base = day0 - reach - 1
    # per (customer, day) and (number, day) keys of the batch, deduplicated
    cd_keys, cust_day = np.unique(_key(p_cust, day, base, span), return_inverse=True)
    nd_keys, num_day = np.unique(_key(p_num, day, base, span), return_inverse=True)
    dd_keys, debt_day = np.unique(_key(p_acct, day, base, span), return_inverse=True)
    h_cd = _key(h_cust, h_day, base, span)
    h_nd = _key(h_num, h_day, base, span)
    h_dd = _key(h_acct, h_day, base, span)
    debtor_call_hist = h_call & ~h_third
    hist_connected = _count_lookup(h_cd, debtor_call_hist & h_conn, cd_keys)
    hist_unanswered = _count_lookup(h_nd, h_call & ~h_conn, nd_keys)
    hist_third = _count_lookup(h_cd, h_third, cd_keys)
    width = profile.call_window_days
    hist_window = np.zeros(day.size, dtype=np.int64)
    window_idx = np.full((day.size, width), -1, dtype=np.int64)
    p_dd = _key(p_acct, day, base, span)
    for k in range(width):
        query = p_dd - k
        hist_window += _count_lookup(h_dd, debtor_call_hist, query)
        pos = np.searchsorted(dd_keys, query)
        ok = pos < dd_keys.size
        ok[ok] = dd_keys[pos[ok]] == query[ok]
        window_idx[ok, k] = pos[ok]
    hist_rpc_last = _last_day(h_cust, h_day, h_rp & ~h_third & h_conn, p_cust)
    hist_conv_last = _last_day(h_acct, h_day, h_conv & debtor_call_hist, p_acct)
    return (
        cust_day.astype(np.int64),
        num_day.astype(np.int64),
        debt_day.astype(np.int64),
        window_idx,
        hist_rpc_last,
        hist_conv_last,
        hist_window,
        hist_connected.astype(np.int64),
        hist_unanswered.astype(np.int64),
        hist_third.astype(np.int64),
        p_cust,
        p_acct,
    )


def _limits(profile: Profile) -> IntArray:
    def opt(value: int | None) -> int:
        return -1 if value is None else value

    return np.array(
        [
            profile.third_party_locate_after_days,
            profile.max_third_party_per_day,
            profile.post_conversation_days or 0,
            opt(profile.max_call_attempts_per_debt),
            opt(profile.max_connected_calls_per_day),
            opt(profile.max_unanswered_per_number_per_day),
        ],
        dtype=np.int64,
    )


def check(
    planned: pa.Table,
    history: ContactHistory,
    flags: pa.Table | None,
    profile: Profile,
    *,
    record_blocked: bool = True,
) -> pa.Table:
    """``planned`` (contracts.md shape 2, any row order) plus ``allowed`` and ``blocked_rule``.

    With ``record_blocked`` the blocked rows go into ``history`` with their rule. Allowed rows are
    NOT recorded as attempts: record them with their outcomes (``history.record``) once made.
    """
    n = planned.num_rows
    assert n <= MAX_BATCH_ROWS, f"{n} planned contacts exceed the batch limit {MAX_BATCH_ROWS}"
    if n == 0:
        return planned.append_column("allowed", pa.array([], pa.bool_())).append_column(
            "blocked_rule", pa.array([], pa.string())
        )
    utc = pc.cast(planned.column("planned_at_utc"), pa.int64()).to_numpy(zero_copy_only=False)
    day, minute = local_parts(utc, planned.column("time_zone"))
    third = _is_in(planned, "recipient_kind", ["third_party"])
    is_call = _is_in(planned, "channel", profile.call_channels)
    rule = _static_rules(planned, flags, profile, third, minute)
    counted = (rule == 0) & (is_call | third)
    if counted.any():
        (
            cust_day,
            num_day,
            debt_day,
            window_idx,
            rpc_last,
            conv_last,
            hist_window,
            h_conn,
            h_unans,
            h_third,
            p_cust,
            p_acct,
        ) = _cap_inputs(planned, history, profile, day, is_call, third)
        order = np.lexsort((np.arange(n), utc))
        order = order[counted[order]]
        _sequential_caps(
            order.astype(np.int64),
            rule,
            is_call,
            third,
            day.astype(np.int64),
            p_cust,
            cust_day,
            num_day,
            p_acct,
            debt_day,
            window_idx,
            rpc_last,
            conv_last,
            hist_window,
            h_conn,
            h_unans,
            h_third,
            int(p_cust.max()) + 1,
            int(p_acct.max()) + 1,
            _limits(profile),
        )
    names = np.array(RULES, dtype=object)[rule]
    result = planned.append_column("allowed", pa.array(rule == 0)).append_column(
        "blocked_rule", pa.array(names.tolist(), type=pa.string())
    )
    if record_blocked:
        history.record_blocked(result)
    return result

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
# dense (entity, day) cells per key kind before the gate numbers keys by sorting instead
DENSE_MAX_CELLS: Final = 1 << 25

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def _is_in(table: pa.Table, name: str, values: Sequence[str]) -> BoolArray:
    """Rows whose text column ``name`` is one of ``values`` (vectorised in Arrow)."""
    hit = pc.is_in(table.column(name), value_set=pa.array(list(values), type=pa.string()))
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False).astype(bool)


def _to_bool(values: pa.Array | pa.ChunkedArray) -> BoolArray:
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False).astype(bool)


class _Encoded:
    """A text column as integer codes into its distinct values (Arrow hashing, no Python
    strings per row). A null is a value of its own, so every row has a code >= 0."""

    def __init__(self, column: pa.Array | pa.ChunkedArray) -> None:
        array = pc.cast(column, pa.string())
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        encoded = pc.dictionary_encode(array, null_encoding="encode")
        self.values: pa.Array = encoded.dictionary
        self.codes: IntArray = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)

    def where(self, hit_per_value: BoolArray) -> BoolArray:
        """Rows whose value has ``hit_per_value`` (a bool per distinct value)."""
        return hit_per_value[self.codes]

    def is_in(self, values: Sequence[str]) -> BoolArray:
        hit = pc.is_in(self.values, value_set=pa.array(list(values), type=pa.string()))
        return self.where(_to_bool(hit))

    def lookup(self, column: pa.Array | pa.ChunkedArray) -> IntArray:
        """Codes of another column's rows in these values; -1 where the value is not here."""
        pos = pc.index_in(column, value_set=self.values)
        return pc.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _flag_rows(customer: _Encoded, flags: pa.Table) -> IntArray:
    """Per distinct planned customer: its row in the flags table (the first, as index_in
    does), -1 when it has none."""
    known = pc.cast(flags.column("customer_id").combine_chunks(), pa.string())
    pos = pc.fill_null(pc.index_in(customer.values, value_set=known), -1)
    return pos.to_numpy(zero_copy_only=False).astype(np.int64)


def _flag_matrix(
    customer: _Encoded, flags: pa.Table | None, names: list[str]
) -> dict[str, BoolArray]:
    n = customer.codes.size
    out = {name: np.zeros(n, dtype=bool) for name in names}
    if flags is None or flags.num_rows == 0:
        return out
    pos_value = _flag_rows(customer, flags)
    found = pos_value >= 0
    for name in names:
        if name in flags.column_names:
            values = _to_bool(pc.cast(flags.column(name), pa.bool_()))
            per_value = np.zeros(pos_value.size, dtype=bool)
            per_value[found] = values[pos_value[found]]
            out[name] = customer.where(per_value)
    return out


def _static_rules(
    planned: pa.Table,
    flags: pa.Table | None,
    profile: Profile,
    third: BoolArray,
    minute: IntArray,
    customer: _Encoded,
    channel: _Encoded,
) -> npt.NDArray[np.int8]:
    """Rules 1–10 (no counting), first failing rule per row."""
    n = planned.num_rows
    rule = np.zeros(n, dtype=np.int8)
    channels = sorted(str(c) for c in channel.values.to_pylist() if c is not None)
    names = [*FLAG_RULES, "vulnerable", "hardship"] + [f"opt_out_{c}" for c in channels]
    flag = _flag_matrix(customer, flags, names)

    def block(name: str, hit: BoolArray) -> None:
        rule[(rule == 0) & hit] = CODE[name]

    for name in FLAG_RULES:
        block(name, flag[name])
    opted = np.zeros(n, dtype=bool)
    for c in channels:
        if flag[f"opt_out_{c}"].any():
            opted |= channel.is_in([c]) & flag[f"opt_out_{c}"]
    block("opt_out", opted)
    friendly = _Encoded(planned.column("tone")).is_in(["friendly"])
    vulnerable_ok = friendly & channel.is_in(VULNERABLE_CHANNELS) & ~third
    block("vulnerable", flag["vulnerable"] & ~vulnerable_ok)
    hardship_ok = friendly & ~channel.is_in(HARDSHIP_EXCLUDED)
    block("hardship", flag["hardship"] & ~hardship_ok)
    template = _Encoded(planned.column("template"))
    locate = template.where(_to_bool(pc.ends_with(template.values, "_locate")))
    block("third_party_debt", third & ~locate)
    quiet = _in_window(minute, profile.quiet_start_minute, profile.quiet_end_minute)
    agreed_start, agreed_end = _agreed_windows(customer, flags)
    agreed = agreed_start >= 0
    if agreed.any():  # the debtor agreed to another window: outside it is the quiet time
        quiet = np.where(agreed, ~_in_window(minute, agreed_start, agreed_end), quiet)
    block("quiet_hours", quiet & channel.is_in(profile.quiet_channels))
    return rule


def _in_window(minute: IntArray, start: IntArray | int, end: IntArray | int) -> BoolArray:
    """Local minutes in [start, end), the window wrapping past midnight when start > end."""
    inside: BoolArray = np.where(
        np.asarray(start) <= np.asarray(end),
        (minute >= start) & (minute < end),
        (minute >= start) | (minute < end),
    )
    return inside


def _agreed_windows(customer: _Encoded, flags: pa.Table | None) -> tuple[IntArray, IntArray]:
    """Per row: the debtor's agreed contact window in local minutes (flags columns
    ``contact_window_start_minute`` / ``contact_window_end_minute``), -1 where none."""
    n = customer.codes.size
    none = np.full(n, -1, dtype=np.int64)
    names = ("contact_window_start_minute", "contact_window_end_minute")
    if flags is None or flags.num_rows == 0 or not all(c in flags.column_names for c in names):
        return none, none.copy()
    pos_np = _flag_rows(customer, flags)
    out = []
    for name in names:
        minutes = pc.fill_null(pc.cast(flags.column(name), pa.int64()), -1)
        values = minutes.to_numpy(zero_copy_only=False).astype(np.int64)
        per_value = np.where(pos_np >= 0, values[np.maximum(pos_np, 0)], -1)
        out.append(per_value[customer.codes])
    start, end = out
    has = (start >= 0) & (end >= 0) & (start != end)
    assert ((start < 24 * 60) & (end < 24 * 60)).all(), "contact window minutes are 0..1439"
    return np.where(has, start, -1), np.where(has, end, -1)


def _count_lookup(hist_key: IntArray, hist_mask: BoolArray, query: IntArray) -> IntArray:
    """How many history rows (where ``hist_mask``) have each query key."""
    keys = np.sort(hist_key[hist_mask])
    return np.searchsorted(keys, query, side="right") - np.searchsorted(keys, query, side="left")


def _last_day(
    hist_entity: IntArray, hist_day: IntArray, hist_mask: BoolArray, entity: IntArray, n_ent: int
) -> IntArray:
    """The latest history day (where mask) per queried entity (codes < ``n_ent``, history
    code -1 = not among them); _NEVER when none."""
    last = np.full(n_ent, _NEVER, dtype=np.int64)
    mask = hist_mask & (hist_entity >= 0)
    np.maximum.at(last, hist_entity[mask], hist_day[mask])
    out: IntArray = last[entity]
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


class _HistoryParts:
    """The history window around a batch, its rows coded by the batch's own entities.

    Only the rows some rule counts are looked up (code -1 elsewhere and for entities not in
    the batch): customers for connected debtor calls, third-party contacts and right-party
    contacts; numbers for unanswered calls; debts for debtor calls (the rolling window) or
    conversations."""

    def __init__(
        self,
        hist: pa.Table,
        profile: Profile,
        entities: tuple[_Encoded, _Encoded, _Encoded],
        window: bool,
    ) -> None:
        cust, acct, num = entities
        self.day = (
            pc.cast(hist.column("local_date"), pa.int32())
            .to_numpy(zero_copy_only=False)
            .astype(np.int64)
        )
        self.call = _Encoded(hist.column("channel")).is_in(profile.call_channels)
        self.third = _Encoded(hist.column("recipient_kind")).is_in(["third_party"])
        self.conn = _to_bool(hist.column("connected"))
        self.rp = _to_bool(hist.column("right_party"))
        self.conv = _to_bool(hist.column("conversation"))
        self.debtor_call = self.call & ~self.third
        cust_rows = (self.debtor_call & self.conn) | self.third | (self.rp & self.conn)
        debt_rows = self.debtor_call if window else self.debtor_call & self.conv
        self.cust = _lookup_where(cust, hist.column("customer_id"), cust_rows)
        self.acct = _lookup_where(acct, hist.column("account_id"), debt_rows)
        self.num = _lookup_where(num, hist.column("to_address"), self.call & ~self.conn)


def _lookup_where(
    encoded: _Encoded, column: pa.ChunkedArray | pa.Array, rows: BoolArray
) -> IntArray:
    """``encoded.lookup`` of the ``rows`` of ``column``; -1 on the other rows."""
    out = np.full(rows.size, -1, dtype=np.int64)
    if rows.any():
        out[rows] = encoded.lookup(pc.filter(column, pa.array(rows)))
    return out


def _dense_counts(key: IntArray, mask: BoolArray, entity: IntArray, size: int) -> IntArray:
    keep = mask & (entity >= 0)
    counts: IntArray = np.bincount(key[keep], minlength=size).astype(np.int64)
    return counts


def _dense_keys(
    h: _HistoryParts,
    p: tuple[IntArray, IntArray, IntArray],
    sizes: tuple[int, int, int],
    day: IntArray,
    base: int,
    span: int,
    width: int,
) -> tuple[IntArray, ...]:
    """Keys = entity * span + day offset, used directly as array positions (daily batches)."""
    p_cust, p_num, p_acct = p
    n_cust, n_num, n_acct = sizes
    cust_day = _key(p_cust, day, base, span)
    num_day = _key(p_num, day, base, span)
    debt_day = _key(p_acct, day, base, span)
    h_cd = _key(h.cust, h.day, base, span)
    h_nd = _key(h.num, h.day, base, span)
    h_dd = _key(h.acct, h.day, base, span)
    hist_connected = _dense_counts(h_cd, h.debtor_call & h.conn, h.cust, n_cust * span)
    hist_unanswered = _dense_counts(h_nd, h.call & ~h.conn, h.num, n_num * span)
    hist_third = _dense_counts(h_cd, h.third, h.cust, n_cust * span)
    # width <= reach < span - 2 and planned offsets are >= reach + 1: debt_day - k stays
    # within the same debt's cells
    window_idx = debt_day[:, None] - np.arange(width, dtype=np.int64)[None, :]
    hist_window = np.zeros(day.size, dtype=np.int64)
    if width:
        hist_debt = _dense_counts(h_dd, h.debtor_call, h.acct, n_acct * span)
        hist_window = hist_debt[window_idx].sum(axis=1)
    return (
        cust_day,
        num_day,
        debt_day,
        window_idx,
        hist_window,
        hist_connected,
        hist_unanswered,
        hist_third,
    )


def _sorted_keys(
    h: _HistoryParts,
    p: tuple[IntArray, IntArray, IntArray],
    day: IntArray,
    base: int,
    span: int,
    width: int,
) -> tuple[IntArray, ...]:
    """The same keys numbered by sorting (batches over many days, where dense cells would not
    fit in memory)."""
    p_cust, p_num, p_acct = p
    cd_keys, cust_day = np.unique(_key(p_cust, day, base, span), return_inverse=True)
    nd_keys, num_day = np.unique(_key(p_num, day, base, span), return_inverse=True)
    dd_keys, debt_day = np.unique(_key(p_acct, day, base, span), return_inverse=True)
    # history code -1 gives a negative key, which matches no batch key
    h_cd = _key(h.cust, h.day, base, span)
    h_nd = _key(h.num, h.day, base, span)
    h_dd = _key(h.acct, h.day, base, span)
    hist_connected = _count_lookup(h_cd, h.debtor_call & h.conn, cd_keys)
    hist_unanswered = _count_lookup(h_nd, h.call & ~h.conn, nd_keys)
    hist_third = _count_lookup(h_cd, h.third, cd_keys)
    hist_window = np.zeros(day.size, dtype=np.int64)
    window_idx = np.full((day.size, width), -1, dtype=np.int64)
    p_dd = _key(p_acct, day, base, span)
    for k in range(width):
        query = p_dd - k
        hist_window += _count_lookup(h_dd, h.debtor_call, query)
        pos = np.searchsorted(dd_keys, query)
        ok = pos < dd_keys.size
        ok[ok] = dd_keys[pos[ok]] == query[ok]
        window_idx[ok, k] = pos[ok]
    return (
        cust_day.astype(np.int64),
        num_day.astype(np.int64),
        debt_day.astype(np.int64),
        window_idx,
        hist_window,
        hist_connected.astype(np.int64),
        hist_unanswered.astype(np.int64),
        hist_third.astype(np.int64),
    )


def _cap_inputs(
    history: ContactHistory,
    profile: Profile,
    day: IntArray,
    cust: _Encoded,
    acct: _Encoded,
    num: _Encoded,
) -> tuple[IntArray, ...]:
    """Integer keys and history counts for :func:`_sequential_caps`."""
    day0, day1 = int(day.min()), int(day.max())
    reach = max(
        profile.call_window_days,
        profile.post_conversation_days or 0,
        profile.third_party_locate_after_days,
        1,
    )
    # the window counts only matter where the profile has a seven-in-seven rule
    width = profile.call_window_days if profile.max_call_attempts_per_debt is not None else 0
    hist = history.window(day0 - reach - 1, day1)
    h = _HistoryParts(hist, profile, (cust, acct, num), window=width > 0)
    span = day1 - day0 + reach + 3
    base = day0 - reach - 1
    p = (cust.codes, num.codes, acct.codes)
    sizes = (len(cust.values), len(num.values), len(acct.values))
    if max(sizes) * span <= DENSE_MAX_CELLS:
        keys = _dense_keys(h, p, sizes, day, base, span, width)
    else:
        keys = _sorted_keys(h, p, day, base, span, width)
    hist_rpc_last = _last_day(h.cust, h.day, h.rp & ~h.third & h.conn, cust.codes, sizes[0])
    hist_conv_last = _last_day(h.acct, h.day, h.conv & h.debtor_call, acct.codes, sizes[2])
    cust_day, num_day, debt_day, window_idx, hist_window, h_conn, h_unans, h_third = keys
    return (
        cust_day,
        num_day,
        debt_day,
        window_idx,
        hist_rpc_last,
        hist_conv_last,
        hist_window,
        h_conn,
        h_unans,
        h_third,
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
    third = _Encoded(planned.column("recipient_kind")).is_in(["third_party"])
    channel = _Encoded(planned.column("channel"))
    is_call = channel.is_in(profile.call_channels)
    cust = _Encoded(planned.column("customer_id"))
    rule = _static_rules(planned, flags, profile, third, minute, cust, channel)
    counted = (rule == 0) & (is_call | third)
    if counted.any():
        acct = _Encoded(planned.column("account_id"))
        num = _Encoded(planned.column("to_address"))
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
        ) = _cap_inputs(history, profile, day, cust, acct, num)
        order = np.lexsort((np.arange(n), utc))
        order = order[counted[order]]
        _sequential_caps(
            order.astype(np.int64),
            rule,
            is_call,
            third,
            day.astype(np.int64),
            cust.codes,
            cust_day,
            num_day,
            acct.codes,
            debt_day,
            window_idx,
            rpc_last,
            conv_last,
            hist_window,
            h_conn,
            h_unans,
            h_third,
            len(cust.values),
            len(acct.values),
            _limits(profile),
        )
    names = pc.take(pa.array(RULES, type=pa.string()), pa.array(rule.astype(np.int32)))
    result = planned.append_column("allowed", pa.array(rule == 0)).append_column(
        "blocked_rule", names
    )
    if record_blocked:
        history.record_blocked(result)
    return result

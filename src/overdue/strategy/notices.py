"""The validation notice (us profile, Regulation F §1006.34): within N days of first contact.

The first collection contact of a debt — an allowed contact to the debtor about an account past
due (DPD > 0) on the business day — starts a clock of ``profile.validation_notice_days`` days.
The daily run sends the notice on the first day it can: the day of that first contact, else
each following day until one passes the gate. The notice is a contact like any other
(template :data:`NOTICE_TEMPLATE`, step id :data:`NOTICE_STEP`, tone friendly, at 10:00 the
debtor's local time): by e-mail while the customer consents to e-mail (no ``opt_out_email``
flag), else by letter. It passes the compliance gate with the day's contacts; a notice the gate
blocks (deceased, bankruptcy, cease communication ...) is recorded with its rule and tried again
the next day.

The ledger — one row per account first contacted: first contact day, notice day, channel and
contact id, last blocking rule and its day — is written for every business day to
``SNAPSHOT_DIR/as_of=D/notices/part-0.parquet`` (a rerun replaces it by an identical file); the
next day starts from the latest earlier ledger. A notice that a later re-check stopped at send
time (the simulator's dialer writes ``outcomes/``; the notice's id is missing there) counts as
not sent and is tried again.

A checker can find the notices in ``contacts.csv`` without this module's files: a notice's
``contact_id`` is :func:`notice_id` of its business day, account and channel.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.compliance.clock import utc_for_local
from overdue.contact.keys import contact_key
from overdue.portfolio.eod import snapshot_path

NOTICE_TEMPLATE: Final = "validation_notice"
NOTICE_STEP: Final = "validation_notice"
NOTICE_CHANNELS: Final = ("email", "letter")  # e-mail with consent, else a letter
NOTICE_LOCAL_MINUTE: Final = 10 * 60  # 10:00 local: outside every profile's quiet hours
NOTICE_PRIORITY: Final = 1
MAX_NOTICES_PER_DAY: Final = 5_000_000
MAX_LEDGER_ROWS: Final = 50_000_000
LEDGER_LOOKBACK_DAYS: Final = 400  # the latest earlier ledger is searched this far back
LEDGER_SCHEMA: Final = pa.schema(
    [
        ("account_id", pa.string()),
        ("customer_id", pa.string()),
        ("first_contact_on", pa.date32()),
        ("time_zone", pa.string()),
        ("language", pa.string()),
        ("strategy", pa.string()),
        ("strategy_version", pa.string()),
        ("arm", pa.string()),
        ("notice_on", pa.date32()),  # null while not sent
        ("notice_channel", pa.string()),
        ("notice_contact_id", pa.string()),
        ("blocked_rule", pa.string()),  # the last rule that blocked a notice ("" never)
        ("blocked_on", pa.date32()),
    ]
)
_ADDRESS: Final = {  # channel → (customers column, fallback prefix, suffix), as decide.py
    "email": ("email", "", "@customers.invalid"),
    "letter": ("postal_address", "post:", ""),
}


def notice_id(as_of: date, account_id: str, channel: str) -> str:
    """The contact id of the validation notice of ``account_id`` sent on ``as_of``."""
    return contact_key(as_of, account_id, NOTICE_STEP, channel)


def ledger_file(snapshots: Path, as_of: date) -> Path:
    return snapshot_path(snapshots, as_of) / "notices" / "part-0.parquet"


def read_ledger(snapshots: Path, as_of: date) -> pa.Table:
    """The ledger at the end of the latest business day before ``as_of`` (empty if none)."""
    for back in range(1, LEDGER_LOOKBACK_DAYS + 1):
        day = as_of - timedelta(days=back)
        path = ledger_file(snapshots, day)
        if path.is_file():
            return _unsent_if_stopped(pq.read_table(path, schema=LEDGER_SCHEMA), snapshots, day)
    return LEDGER_SCHEMA.empty_table()


def _unsent_if_stopped(ledger: pa.Table, snapshots: Path, day: date) -> pa.Table:
    """Notices of ``day`` missing from that day's outcomes (stopped at send time) → unsent."""
    outcomes = snapshot_path(snapshots, day) / "outcomes" / "part-0.parquet"
    if not outcomes.is_file() or ledger.num_rows == 0:
        return ledger
    made = pq.read_table(outcomes, columns=["contact_id"])["contact_id"]
    of_day = pc.fill_null(pc.equal(ledger["notice_on"], pa.scalar(day, pa.date32())), False)
    stopped = pc.and_(of_day, pc.invert(pc.is_in(ledger["notice_contact_id"], made)))
    if not pc.any(stopped).as_py():
        return ledger
    columns = {name: ledger[name] for name in LEDGER_SCHEMA.names}
    columns["notice_on"] = pc.if_else(stopped, pa.scalar(None, pa.date32()), ledger["notice_on"])
    for name in ("notice_channel", "notice_contact_id"):
        columns[name] = pc.if_else(stopped, "", ledger[name])
    columns["blocked_rule"] = pc.if_else(stopped, "stopped at send time", ledger["blocked_rule"])
    columns["blocked_on"] = pc.if_else(stopped, pa.scalar(day, pa.date32()), ledger["blocked_on"])
    return pa.table(columns, schema=LEDGER_SCHEMA)


def first_contacts(gated: pa.Table, snapshot: pa.Table, ledger: pa.Table) -> pa.Table:
    """Today's allowed debtor contacts about past-due accounts not yet in the ledger (one each)."""
    debtor = pc.and_(gated["allowed"], pc.equal(gated["recipient_kind"], "debtor"))
    not_notice = pc.not_equal(gated["template"], NOTICE_TEMPLATE)
    rows = gated.filter(pc.and_(debtor, not_notice))
    where = pc.index_in(rows["account_id"], value_set=snapshot["account_id"].combine_chunks())
    dpd = pc.fill_null(pc.take(snapshot["dpd"], where), 0)
    rows = rows.filter(pc.greater(dpd, 0))
    known = ledger["account_id"].combine_chunks() if ledger.num_rows else pa.array([], pa.string())
    rows = rows.filter(pc.invert(pc.is_in(rows["account_id"], value_set=known)))
    if rows.num_rows == 0:
        return rows
    _, first = np.unique(np.array(rows["account_id"].to_pylist(), dtype=object), return_index=True)
    return rows.take(pa.array(np.sort(first), pa.int64()))


def opened(ledger: pa.Table, first: pa.Table, as_of: date) -> pa.Table:
    """The ledger with a row for every account first contacted today."""
    n = first.num_rows
    new = pa.table(
        {
            "account_id": first["account_id"],
            "customer_id": first["customer_id"],
            "first_contact_on": pa.repeat(pa.scalar(as_of, pa.date32()), n),
            "time_zone": first["time_zone"],
            "language": first["language"],
            "strategy": first["strategy"],
            "strategy_version": first["strategy_version"],
            "arm": first["arm"],
            "notice_on": pa.nulls(n, pa.date32()),
            "notice_channel": pa.repeat(pa.scalar("", pa.string()), n),
            "notice_contact_id": pa.repeat(pa.scalar("", pa.string()), n),
            "blocked_rule": pa.repeat(pa.scalar("", pa.string()), n),
            "blocked_on": pa.nulls(n, pa.date32()),
        },
        schema=LEDGER_SCHEMA,
    )
    table = pa.concat_tables([ledger.cast(LEDGER_SCHEMA), new]).combine_chunks()
    assert table.num_rows <= MAX_LEDGER_ROWS, f"notice ledger over {MAX_LEDGER_ROWS} rows"
    return table


def plan(pending: pa.Table, customers: pa.Table, flags: pa.Table, as_of: date) -> pa.Table:
    """The day's notices for the ledger rows still unsent (PLANNED_SCHEMA columns)."""
    from overdue.strategy.decide import PLANNED_SCHEMA

    n = pending.num_rows
    assert n <= MAX_NOTICES_PER_DAY, f"{n} notices exceed the daily limit"
    customer = pending["customer_id"].combine_chunks()
    channel = pc.if_else(_flag(flags, "opt_out_email", customer), "letter", "email")
    accounts = pending["account_id"].to_pylist()
    channels = channel.to_pylist()
    zones = pending["time_zone"].to_pylist()
    utc = {z: utc_for_local(as_of, NOTICE_LOCAL_MINUTE, z) for z in set(zones)}
    const = lambda value, kind: pa.repeat(pa.scalar(value, kind), n)  # noqa: E731
    columns = {
        "contact_id": pa.array(
            [notice_id(as_of, a, c) for a, c in zip(accounts, channels, strict=True)], pa.string()
        ),
        "as_of": const(as_of, pa.date32()),
        "customer_id": customer,
        "account_id": pending["account_id"],
        "channel": channel,
        "to_address": _addresses(customers, customer, channel),
        "recipient_kind": const("debtor", pa.string()),
        "planned_at_utc": pa.array([utc[z] for z in zones], pa.int64()).cast(
            pa.timestamp("us", tz="UTC")
        ),
        "time_zone": pending["time_zone"],
        "language": pending["language"],
        "template": const(NOTICE_TEMPLATE, pa.string()),
        "tone": const("friendly", pa.string()),
        "strategy": pending["strategy"],
        "strategy_version": pending["strategy_version"],
        "segment": const("validation_notice", pa.string()),
        "arm": pending["arm"],
        "step_id": const(NOTICE_STEP, pa.string()),
        "priority": const(NOTICE_PRIORITY, pa.int32()),
        "reason": pc.binary_join_element_wise(
            "validation notice: first collection contact on ",
            pc.cast(pending["first_contact_on"], pa.string()),
            "",
        ),
    }
    return pa.table(columns, schema=PLANNED_SCHEMA)


def _flag(flags: pa.Table, name: str, customer: pa.Array) -> pa.Array:
    if name not in flags.column_names:
        return pa.repeat(pa.scalar(False), len(customer))
    where = pc.index_in(customer, value_set=flags["customer_id"].combine_chunks())
    return pc.fill_null(pc.take(flags[name], where), False)


def _addresses(customers: pa.Table, customer: pa.Array, channel: pa.Array) -> pa.Array:
    where = pc.index_in(customer, value_set=customers["customer_id"].combine_chunks())
    out = {}
    for name, (column, prefix, suffix) in _ADDRESS.items():
        fallback = pc.binary_join_element_wise(prefix, customer, suffix, "")
        if column in customers.column_names:
            given = pc.fill_null(pc.take(customers[column], where).cast(pa.string()), "")
            out[name] = pc.if_else(pc.greater(pc.utf8_length(given), 0), given, fallback)
        else:
            out[name] = fallback
    return pc.if_else(pc.equal(channel, "email"), out["email"], out["letter"])


def settled(ledger: pa.Table, gated_notices: pa.Table, as_of: date) -> pa.Table:
    """The ledger after the gate: allowed notices sent today, blocked ones with their rule."""
    if gated_notices.num_rows == 0:
        return ledger
    where = pc.index_in(ledger["account_id"], value_set=gated_notices["account_id"])
    has = pc.is_valid(where)
    allowed = pc.fill_null(pc.take(gated_notices["allowed"], where), False)
    sent = pc.and_(has, allowed)
    blocked = pc.and_(has, pc.invert(allowed))
    today = pa.scalar(as_of, pa.date32())
    columns: dict[str, Any] = {name: ledger[name] for name in LEDGER_SCHEMA.names}
    columns["notice_on"] = pc.if_else(sent, today, ledger["notice_on"])
    columns["notice_channel"] = pc.if_else(
        sent, pc.take(gated_notices["channel"], where), ledger["notice_channel"]
    )
    columns["notice_contact_id"] = pc.if_else(
        sent, pc.take(gated_notices["contact_id"], where), ledger["notice_contact_id"]
    )
    rule = pc.take(gated_notices["blocked_rule"], where)
    columns["blocked_rule"] = pc.if_else(blocked, rule, ledger["blocked_rule"])
    columns["blocked_on"] = pc.if_else(blocked, today, ledger["blocked_on"])
    return pa.table(columns, schema=LEDGER_SCHEMA)


def add_notices(
    gated: pa.Table,
    *,
    snapshots: Path,
    as_of: date,
    snapshot: pa.Table,
    customers: pa.Table,
    flags: pa.Table,
    history: Any,
    profile: Any,
) -> pa.Table:
    """The day's gated contacts plus the gated validation notices (the daily run's hook).

    Unchanged when the profile has no ``validation_notice_days``. Writes the day's ledger."""
    if getattr(profile, "validation_notice_days", None) is None:
        return gated
    problems = notice_template_problems()
    assert not problems, "; ".join(problems)
    from overdue.contact.render import education_columns
    from overdue.strategy import wiring

    def gate(planned: pa.Table) -> pa.Table:
        return wiring.gate(planned, history, flags, profile)

    ledger = read_ledger(snapshots, as_of)
    ledger, gated_notices = notice_day(ledger, gated, snapshot, customers, flags, as_of, gate)
    _write_ledger(ledger, ledger_file(snapshots, as_of))
    if gated_notices is None:
        return gated
    education = education_columns(gated_notices, snapshot, as_of, customers=customers)
    for name in gated.column_names:
        if name not in gated_notices.column_names and name in education.column_names:
            gated_notices = gated_notices.append_column(name, education[name])
    return pa.concat_tables([gated, gated_notices.select(gated.column_names).cast(gated.schema)])


def notice_day(
    ledger: pa.Table,
    gated: pa.Table,
    snapshot: pa.Table,
    customers: pa.Table,
    flags: pa.Table,
    as_of: date,
    gate: Callable[[pa.Table], pa.Table],
) -> tuple[pa.Table, pa.Table | None]:
    """One business day: open the clocks of today's first contacts, plan every unsent notice,
    pass them through ``gate`` → (the day's ledger, the gated notices or None)."""
    ledger = opened(ledger, first_contacts(gated, snapshot, ledger), as_of)
    pending = ledger.filter(pc.is_null(ledger["notice_on"]))
    if pending.num_rows == 0:
        return ledger, None
    gated_notices = gate(plan(pending, customers, flags, as_of))
    assert gated_notices.num_rows == pending.num_rows, "the gate keeps every planned row"
    return settled(ledger, gated_notices, as_of), gated_notices


@lru_cache(maxsize=1)
def notice_template_problems() -> tuple[str, ...]:
    """Wording problems of the notice template (both languages, e-mail and letter)."""
    from overdue.compliance.wording import check_notice_template

    return tuple(check_notice_template(NOTICE_TEMPLATE, NOTICE_CHANNELS))


def _write_ledger(ledger: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".part-0.parquet.tmp")
    pq.write_table(ledger, tmp)
    tmp.replace(path)


def late_notices(ledger: pa.Table, as_of: date, days: int) -> pa.Table:
    """Ledger rows whose notice is late on ``as_of``: unsent, and first contact + days < as_of."""
    first = ledger["first_contact_on"].to_pylist()
    late = [d + timedelta(days=days) < as_of for d in first]
    unsent = pc.is_null(ledger["notice_on"])
    return ledger.filter(pc.and_(unsent, pa.array(late, pa.bool_())))

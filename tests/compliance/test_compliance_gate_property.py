"""Property: whatever is planned, day after day, no contact the gate allows breaks a rule.

Random customers (time zones, flags, numbers) get random planned contacts across days,
channels, hours and recipients; each day's plan goes through ``gate.check`` in one or more
batches (slots), the allowed contacts get random outcomes and go into the history. A checker
written here, independently of the gate and in the plainest way (a loop over every contact and
the whole history), then looks for any allowed contact that breaks a rule of the profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from overdue.compliance.gate import check
from overdue.compliance.history import ContactHistory
from overdue.compliance.profile import Profile, load_profile
from overdue.strategy.decide import PLANNED_SCHEMA

ZONES = ["Asia/Shanghai", "America/New_York", "America/Los_Angeles", "Asia/Urumqi", "Europe/London"]
CHANNELS = ["push", "sms", "email", "voice_robot", "voice_agent", "letter", "field_visit"]
CALLS = {"voice_robot", "voice_agent"}
FLAGS = [
    "do_not_contact",
    "dispute",
    "hardship",
    "vulnerable",
    "deceased",
    "bankruptcy",
    "cease_communication",
]
START = date(2024, 3, 8)  # spans the US change to daylight saving time (2024-03-10)


@dataclass
class Contact:
    """One allowed contact with its outcome (what the checker sees)."""

    customer: str
    account: str
    channel: str
    address: str
    third: bool
    template: str
    tone: str
    at_utc: datetime
    zone: str
    connected: bool
    right_party: bool
    conversation: bool

    @property
    def local(self) -> datetime:
        return self.at_utc.astimezone(ZoneInfo(self.zone))


customers_st = st.lists(
    st.fixed_dictionaries(
        {
            "zone": st.sampled_from(ZONES),
            "flags": st.just([])
            | st.lists(st.sampled_from([*FLAGS, "opt_out_sms", "opt_out_voice_robot"]), max_size=2),
            "accounts": st.integers(1, 2),
        }
    ),
    min_size=1,
    max_size=4,
)

plan_st = st.lists(
    st.fixed_dictionaries(
        {
            "customer": st.integers(0, 3),
            "account": st.integers(0, 1),
            "day": st.integers(0, 9) | st.integers(0, 1),
            "minute": st.integers(0, 24 * 60 - 1) | st.integers(9 * 60, 20 * 60),
            "channel": st.sampled_from(CHANNELS) | st.sampled_from(sorted(CALLS)),
            "third": st.sampled_from([False, False, False, True]),
            "locate": st.booleans(),
            "tone": st.sampled_from(["friendly", "firm", "formal"]),
            "shared_number": st.booleans(),
            "connected": st.booleans(),
            "right_party": st.booleans(),
            "conversation": st.booleans(),
            "repeat": st.just(1) | st.integers(1, 12),  # a burst of the same contact ...
            "every_minutes": st.sampled_from([7, 61, 1440]),  # ... this far apart
        }
    ),
    min_size=1,
    max_size=150,
)


def planned_table(rows: list[dict[str, object]]) -> pa.Table:
    cols: dict[str, list[object]] = {name: [] for name in PLANNED_SCHEMA.names}
    for i, row in enumerate(rows):
        for name in PLANNED_SCHEMA.names:
            cols[name].append(row.get(name))
        cols["contact_id"][-1] = f"c{i}-{row['account_id']}-{row['planned_at_utc']}"
    return pa.Table.from_pydict(cols, schema=PLANNED_SCHEMA)


def flags_table(customers: list[dict[str, object]]) -> pa.Table:
    names = [*FLAGS, "opt_out_sms", "opt_out_voice_robot"]
    data: dict[str, list[object]] = {"customer_id": [f"C{i}" for i in range(len(customers))]}
    for name in names:
        data[name] = [name in c["flags"] for c in customers]  # type: ignore[operator]
    return pa.table(data)


def to_rows(customers: list[dict[str, object]], plan: list[dict[str, object]]) -> list[dict]:
    rows = []
    for burst in plan:
        for k in range(int(burst.get("repeat", 1))):  # type: ignore[call-overload]
            rows.append(_row(customers, burst, k * int(burst.get("every_minutes", 0))))  # type: ignore[call-overload]
    return rows


def _row(customers: list[dict[str, object]], p: dict[str, object], later_minutes: int) -> dict:
    ci = int(p["customer"]) % len(customers)  # type: ignore[call-overload]
    c = customers[ci]
    account = int(p["account"]) % int(c["accounts"])  # type: ignore[call-overload]
    zone = str(c["zone"])
    day = START + timedelta(days=int(p["day"]))  # type: ignore[call-overload]
    minute = int(p["minute"])  # type: ignore[call-overload]
    local = datetime(
        day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=ZoneInfo(zone)
    ) + timedelta(minutes=later_minutes)
    day = local.date()
    third = bool(p["third"])
    if third:
        address = "tel:shared-contact" if p["shared_number"] else f"tel:ec-{ci}"
    else:
        address = f"tel:{ci}" if p["channel"] in CALLS or p["channel"] == "sms" else f"x:{ci}"
    channel = str(p["channel"])
    template = f"{channel}_locate" if p["locate"] else f"{channel}_{p['tone']}"
    return {
        "as_of": day,
        "customer_id": f"C{ci}",
        "account_id": f"A{ci}-{account}",
        "channel": channel,
        "to_address": address,
        "recipient_kind": "third_party" if third else "debtor",
        "planned_at_utc": local.astimezone(UTC),
        "time_zone": zone,
        "language": "en",
        "template": template,
        "tone": p["tone"],
        "strategy": "random",
        "strategy_version": "0",
        "segment": "s",
        "arm": "champion",
        "step_id": "x",
        "priority": 1,
        "reason": "",
        "_outcome": (bool(p["connected"]), bool(p["right_party"]), bool(p["conversation"])),
    }


def run_days(
    rows: list[dict], flags: pa.Table, profile: Profile, slots_per_day: int
) -> tuple[list[Contact], ContactHistory]:
    """Feed the plan through the gate day by day (and slot by slot), recording outcomes."""
    history = ContactHistory()
    made: list[Contact] = []
    by_batch: dict[tuple[date, int], list[dict]] = {}
    for row in rows:
        local = row["planned_at_utc"].astimezone(ZoneInfo(row["time_zone"]))
        slot = local.hour * slots_per_day // 24
        by_batch.setdefault((row["as_of"], slot), []).append(row)
    for key in sorted(by_batch):
        batch = by_batch[key]
        checked = check(planned_table(batch), history, flags, profile)
        allowed = checked.column("allowed").to_pylist()
        outcomes = []
        for row, ok in zip(batch, allowed, strict=True):
            if not ok:
                continue
            connected, rp, conv = row["_outcome"]
            call = row["channel"] in CALLS
            connected = connected and call
            rp = rp and connected and row["recipient_kind"] == "debtor"
            conv = conv and rp
            outcomes.append(
                {
                    **{k: v for k, v in row.items() if not k.startswith("_")},
                    "connected": connected,
                    "right_party": rp,
                    "conversation": conv,
                }
            )
            made.append(
                Contact(
                    row["customer_id"],
                    row["account_id"],
                    row["channel"],
                    row["to_address"],
                    row["recipient_kind"] == "third_party",
                    row["template"],
                    row["tone"],
                    row["planned_at_utc"],
                    row["time_zone"],
                    connected,
                    rp,
                    conv,
                )
            )
        if outcomes:
            history.record(pa.Table.from_pylist(outcomes))
    return made, history


def violations(made: list[Contact], flags: pa.Table, profile: Profile) -> list[str]:
    """Every rule broken by an allowed contact, checked the slow, obvious way."""
    flag_rows = {r["customer_id"]: r for r in flags.to_pylist()}
    found = []
    start = int(profile.quiet_start[:2]) * 60 + int(profile.quiet_start[3:])
    end = int(profile.quiet_end[:2]) * 60 + int(profile.quiet_end[3:])
    for c in made:
        f = flag_rows[c.customer]
        for name in ("do_not_contact", "dispute", "deceased", "bankruptcy", "cease_communication"):
            if f[name]:
                found.append(f"{name}: {c}")
        if f.get(f"opt_out_{c.channel}"):
            found.append(f"opt-out: {c}")
        if f["vulnerable"] and (
            c.tone != "friendly"
            or c.third
            or c.channel in ("voice_robot", "field_visit", "agency", "legal")
        ):
            found.append(f"vulnerable: {c}")
        if f["hardship"] and (
            c.tone != "friendly" or c.channel in ("field_visit", "agency", "legal")
        ):
            found.append(f"hardship: {c}")
        if c.third and not c.template.endswith("_locate"):
            found.append(f"third party told about the debt: {c}")
        minute = c.local.hour * 60 + c.local.minute
        quiet = (minute >= start or minute < end) if start > end else (start <= minute < end)
        if quiet and c.channel in profile.quiet_channels:
            found.append(f"quiet hours ({c.local}): {c}")
    calls = [c for c in made if c.channel in CALLS]
    for c in made:
        day = c.local.date()
        if c.third:
            for o in made:
                if (
                    o.customer == c.customer
                    and o.right_party
                    and o.at_utc <= c.at_utc
                    and (day - o.local.date()).days < profile.third_party_locate_after_days
                ):
                    found.append(f"third party while the debtor was reachable: {c}")
            same_day = [
                o for o in made if o.third and o.customer == c.customer and o.local.date() == day
            ]
            if len(same_day) > profile.max_third_party_per_day:
                found.append(f"too many third-party contacts: {c}")
        if c.channel not in CALLS:
            continue
        if profile.max_connected_calls_per_day is not None and not c.third:
            connected = [
                o
                for o in calls
                if o.customer == c.customer
                and not o.third
                and o.connected
                and o.local.date() == day
            ]
            if len(connected) > profile.max_connected_calls_per_day:
                found.append(f"connected calls {len(connected)} on {day}: {c}")
        if profile.max_unanswered_per_number_per_day is not None:
            unanswered = [
                o
                for o in calls
                if o.address == c.address and not o.connected and o.local.date() == day
            ]
            if len(unanswered) > profile.max_unanswered_per_number_per_day:
                found.append(f"unanswered calls {len(unanswered)} to {c.address} on {day}")
        if profile.max_call_attempts_per_debt is not None and not c.third:
            window = [
                o
                for o in calls
                if o.account == c.account
                and not o.third
                and 0 <= (day - o.local.date()).days < 7
                and o.at_utc <= c.at_utc
            ]
            if len(window) > profile.max_call_attempts_per_debt:
                found.append(f"{len(window)} call attempts in 7 days: {c}")
        if profile.post_conversation_days is not None and not c.third:
            for o in calls:
                if (
                    o.account == c.account
                    and o.conversation
                    and o.at_utc < c.at_utc
                    and (day - o.local.date()).days < profile.post_conversation_days
                ):
                    found.append(f"call within 7 days after a conversation on {o.local}: {c}")
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customers=customers_st,
    plan=plan_st,
    profile_name=st.sampled_from(["cn", "us"]),
    slots=st.sampled_from([1, 3, 24]),
)
def test_no_allowed_contact_breaks_a_rule(
    customers: list[dict[str, object]],
    plan: list[dict[str, object]],
    profile_name: str,
    slots: int,
) -> None:
    profile = load_profile(profile_name)
    flags = flags_table(customers)
    made, _ = run_days(to_rows(customers, plan), flags, profile, slots)
    assert violations(made, flags, profile) == []


def _pound(profile_name: str) -> tuple[list[Contact], ContactHistory, int]:
    """The aggressive pattern: one debtor, every hour of three days, calls and texts."""
    customers = [
        {
            "zone": "Asia/Shanghai" if profile_name == "cn" else "America/Chicago",
            "flags": [],
            "accounts": 1,
        }
    ]
    plan = [
        {
            "customer": 0,
            "account": 0,
            "day": d,
            "minute": h * 60 + 5,
            "channel": ch,
            "third": third,
            "locate": False,
            "tone": "firm",
            "shared_number": False,
            "connected": h % 3 == 0,
            "right_party": True,
            "conversation": h % 3 == 0,
        }
        for d in range(3)
        for h in range(24)
        for ch in ("voice_robot", "voice_agent", "sms")
        for third in (False, True)
    ]
    profile = load_profile(profile_name)
    flags = flags_table(customers)
    made, history = run_days(to_rows(customers, plan), flags, profile, 24)
    assert violations(made, flags, profile) == []
    return made, history, len(plan)


def test_the_aggressive_pattern_is_blocked_cn() -> None:
    made, history, planned = _pound("cn")
    rules = history.blocked_by_rule()
    assert len(made) < planned / 3
    for rule in ("quiet_hours", "third_party_debt", "daily_connected_cap"):
        assert rules.get(rule, 0) > 0, rules


def test_the_aggressive_pattern_is_blocked_us() -> None:
    made, history, planned = _pound("us")
    rules = history.blocked_by_rule()
    assert len(made) < planned / 3
    for rule in ("quiet_hours", "third_party_debt", "post_conversation"):
        assert rules.get(rule, 0) > 0, rules

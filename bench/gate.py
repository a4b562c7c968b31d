"""Planned contacts per second through the compliance gate (goal ≥ 100k/s).

Builds N planned contacts (contracts.md shape 2) for N/4 customers over a day of send times
and channels, a contact history of the previous 7 days (one attempt per customer a day, a
third of them connected), and a few percent of customers flagged; then times
``overdue.compliance.gate.check`` on the whole table (best of ``--repeat`` runs) for each
profile, with an empty history and with the 7-day history, side by side in one run (the
compiled cap loop is warmed up first).

    .venv/bin/python bench/gate.py --contacts 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import time
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from overdue.compliance.clock import utc_for_local
from overdue.compliance.history import ContactHistory
from overdue.compliance.profile import Profile
from overdue.strategy.sim_book import FLAG_COLUMNS

CHANNELS = ("push", "sms", "email", "voice_robot", "voice_agent", "letter")
ZONES = ("Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "America/New_York")


def planned(n: int, customers: int, day: date, rng: np.random.Generator) -> pa.Table:
    cust = rng.integers(0, customers, size=n)
    channel = np.array(CHANNELS, dtype=object)[rng.integers(0, len(CHANNELS), size=n)]
    zone = np.array(ZONES, dtype=object)[cust % len(ZONES)]
    minute = rng.integers(6 * 60, 24 * 60, size=n) // 15 * 15
    # UTC instant per (zone, local minute), looked up once per distinct pair
    zone_index = cust % len(ZONES)
    table = np.array(
        [[utc_for_local(day, m, z) for m in range(24 * 60)] for z in ZONES], dtype=np.int64
    )
    utc = table[zone_index, minute]
    cid = np.char.add("C", np.char.zfill(cust.astype(str), 9))
    ids = [hashlib.sha256(f"{day}|{i}".encode()).hexdigest()[:32] for i in range(n)]
    third = rng.random(n) < 0.02
    return pa.table(
        {
            "contact_id": pa.array(ids),
            "as_of": pa.array([day] * n, pa.date32()),
            "customer_id": pa.array(cid.tolist()),
            "account_id": pa.array(np.char.replace(cid, "C", "A").tolist()),
            "channel": pa.array(channel.tolist()),
            "to_address": pa.array(np.char.add("tel:", cid).tolist()),
            "recipient_kind": pa.array(np.where(third, "third_party", "debtor").tolist()),
            "planned_at_utc": pa.array(utc, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "time_zone": pa.array(zone.tolist()),
            "language": pa.array(["zh-CN"] * n),
            "template": pa.array([f"{c}_friendly" for c in channel.tolist()]),
            "tone": pa.array(np.where(rng.random(n) < 0.5, "friendly", "firm").tolist()),
            "strategy": pa.array(["bench"] * n),
            "strategy_version": pa.array(["1"] * n),
            "segment": pa.array(["s"] * n),
            "arm": pa.array(["champion"] * n),
            "step_id": pa.array(["step"] * n),
            "priority": pa.array(np.ones(n, dtype=np.int32)),
            "reason": pa.array(["bench"] * n),
        }
    )


def flags(customers: int, rng: np.random.Generator) -> pa.Table:
    ids = np.char.add("C", np.char.zfill(np.arange(customers).astype(str), 9))
    columns: dict[str, object] = {"customer_id": pa.array(ids.tolist())}
    for name in FLAG_COLUMNS:
        columns[name] = pa.array(rng.random(customers) < 0.01)
    return pa.table(columns)


def best_seconds(
    plan: pa.Table, history: ContactHistory, flag_table: pa.Table, profile: Profile, repeat: int
) -> tuple[float, int]:
    """(best wall seconds of ``repeat`` runs, allowed contacts)."""
    from overdue.compliance.gate import check

    best, allowed = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        gated = check(plan, history, flag_table, profile)
        best = min(best, time.perf_counter() - started)
        allowed = int(gated.column("allowed").to_numpy(zero_copy_only=False).sum())
    return best, allowed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--profile", default="both", choices=("cn", "us", "both"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from overdue.compliance.gate import check
    from overdue.compliance.profile import load_profile

    rng = np.random.default_rng(args.seed)
    customers = max(1, args.contacts // 4)
    day = date(2024, 7, 8)
    history = ContactHistory()
    for back in range(7, 0, -1):
        earlier = planned(customers, customers, day - timedelta(days=back), rng)
        connected = pa.array(rng.random(customers) < 0.33)
        history.record(earlier.append_column("connected", connected))
    plan = planned(args.contacts, customers, day, rng)
    flag_table = flags(customers, rng)
    names = ("cn", "us") if args.profile == "both" else (args.profile,)
    print(
        f"gate: {args.contacts:,} planned contacts, {customers:,} customers, "
        f"history {history.num_attempts:,} attempts over 7 days; best of {args.repeat}; "
        "goal 100,000/s"
    )
    for name in names:
        profile = load_profile(name)
        check(plan.slice(0, 1000), ContactHistory(), flag_table, profile, record_blocked=False)
        for label, hist in (("no history", ContactHistory()), ("7-day history", history)):
            seconds, allowed = best_seconds(plan, hist, flag_table, profile, args.repeat)
            print(
                f"  {name}  {label:<14} {seconds:6.2f} s  {args.contacts / seconds:>10,.0f} "
                f"contacts/s  allowed {allowed:,}"
            )
    print(
        f"command: .venv/bin/python bench/gate.py --contacts {args.contacts} --profile {args.profile}"
    )


if __name__ == "__main__":
    main()

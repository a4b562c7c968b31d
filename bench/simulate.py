"""The what-if simulation at scale: seconds per simulated day, and the tables of a finished run.

``run``: simulate ``--days`` days of ``--accounts`` accounts (both shipped strategies, seed 1)
and print where the time went per simulated day and strategy (``timings.json``):

    nice -n 5 .venv/bin/python bench/simulate.py run --accounts 100000 --days 3 --out /tmp/simb

``table OUT``: the markdown rows of a finished run (``summary.json``, ``timings.json``) for
docs/strategy/simulation.md: per strategy contacts, recovered, paid on the due date, cost,
recovered per contact, complaints per 1,000 customers and attrition with their 95 % intervals,
blocked attempts by rule, and the wall time.

    .venv/bin/python bench/simulate.py table /work/sim/cn90
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

FEN_PER_YUAN = 100


def _ci(figure: dict[str, float], scale: float = 1.0, digits: int = 0) -> str:
    def fmt(x: float) -> str:
        return f"{x / scale:,.{digits}f}"

    return f"{fmt(figure['value'])} [{fmt(figure['low'])}, {fmt(figure['high'])}]"


def table(out: Path) -> str:
    summary = json.loads((out / "summary.json").read_text())
    timings_file = out / "timings.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    config = summary["config"]
    lines = [
        f"{config['profile']}: {config['accounts']:,} accounts × {config['days']} days "
        f"({config['first_day']} to {config['last_day']}), seed {config['seed']}, "
        f"wall time {timings.get('total', '?')} s",
        "",
        "| strategy | contacts | recovered (yuan) | cost (yuan) | recovered per contact (yuan) "
        "| complaints per 1,000 customers | attrition (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    blocked = []
    for label, data in summary["strategies"].items():
        a = data["all"]
        attrition = {k: v * 100 for k, v in a["attrition"].items() if k != "n"}
        lines.append(
            f"| {data['name']} ({label}) | {_ci(a['contacts'])} "
            f"| {_ci(a['recovered_fen'], FEN_PER_YUAN)} | {_ci(a['cost_fen'], FEN_PER_YUAN)} "
            f"| {_ci(a['recovered_per_contact_fen'], FEN_PER_YUAN, 2)} "
            f"| {_ci(a['complaints_per_1000_customers'], 1, 2)} | {_ci(attrition, 1, 3)} |"
        )
        rules = ", ".join(f"{rule} {n:,}" for rule, n in a["blocked_by_rule"].items())
        blocked.append(f"- {data['name']} blocked by rule: {rules or 'none'}")
        seconds = timings.get(label, {})
        if seconds:
            per_day = sum(seconds.values()) / config["days"]
            steps = ", ".join(f"{k} {v}" for k, v in seconds.items() if v >= 1)
            blocked.append(f"  - seconds: {per_day:.1f} per simulated day ({steps})")
    return "\n".join([*lines, "", *blocked])


def run(accounts: int, days: int, out: Path, profile: str) -> dict[str, Any]:
    from overdue.strategy.simulate import SimConfig, simulate

    started = time.perf_counter()
    summary = simulate(
        SimConfig(
            accounts=accounts,
            days=days,
            strategy="default",
            vs="aggressive",
            profile=profile,
            seed=1,
            out=out,
        )
    )
    seconds: dict[str, Any] = summary["seconds"]
    for label in ("strategy", "vs"):
        steps = seconds.get(label, {})
        per_day = {k: round(v / days, 2) for k, v in steps.items()}
        print(label, f"{sum(steps.values()) / days:.1f} s per simulated day", per_day)
    print("total", round(time.perf_counter() - started, 1), "s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("run")
    bench.add_argument("--accounts", type=int, default=100_000)
    bench.add_argument("--days", type=int, default=3)
    bench.add_argument("--profile", default="cn", choices=("cn", "us"))
    bench.add_argument("--out", type=Path, default=Path("/tmp/bench-simulate"))
    tables = sub.add_parser("table")
    tables.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        run(args.accounts, args.days, args.out, args.profile)
    else:
        print(table(args.out))


if __name__ == "__main__":
    main()

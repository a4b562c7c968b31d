"""The book models end to end, and the daily run with scoring against without, in one run.

    .venv/bin/python bench/score_eod.py --accounts 20000 --months 13 --work /tmp/bench_models

1. generates a twin book (kept in --work), runs the batch at every month end;
2. trains early_warning and collection (overdue models book-train: time-based validation)
   and prints AUC, KS and the share of bads found in the riskiest 10 % / 20 %, writes the
   validation gains charts (SVG) into --work;
3. then runs --days daily batches after the last month end and, for each, times the batch
   (run_eod, incremental from the day before) and the scoring (score_snapshot: fresh accounts
   only, the rest carried) side by side, wall and CPU seconds (all threads of the process);
   prints the scoring cost as a share of the batch.

With ``--processes`` step 3 times each day as the daily run is run instead: a whole
``overdue eod`` process without ``--models``, then one with it (imports, the models' load
beside the batch and the scoring included), and prints how much more the second costs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from overdue.portfolio.account_handoff import AccountHandoff
from overdue.portfolio.eod import run_eod, snapshot_dates, snapshot_path
from overdue.scoring.book import BookTrainOptions, read_book_info, train_book_model
from overdue.scoring.daily_items import INPUT_SCHEMA
from overdue.scoring.gains_svg import gains_svg
from overdue.scoring.score_eod import score_snapshot
from overdue.scoring.targets import TargetConfig
from overdue.twin.generate import TwinSpec, generate_book


def month_ends(first: date, last: date) -> list[date]:
    out, day = [], first
    while day <= last:
        nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        if nxt - timedelta(days=1) <= last:
            out.append(nxt - timedelta(days=1))
        day = nxt
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_models"))
    parser.add_argument("--effort", default="quick")
    parser.add_argument("--prepare-only", action="store_true", help="stop before the daily runs")
    parser.add_argument("--days", type=int, default=3, help="daily runs after the month end")
    parser.add_argument(
        "--rescore", type=int, default=0,
        help="score each day this many more times (models loaded, the previous day's state "
        "kept): the table shows the last",
    )  # fmt: skip
    parser.add_argument(
        "--keep-first", action="store_true",
        help="reuse the first day's snapshot and scores if there (its batch rebuilds from the "
        "month end and every account is scored fresh: not a typical day)",
    )  # fmt: skip
    parser.add_argument(
        "--processes", action="store_true",
        help="time each day as the daily run is run: one `overdue eod` process without "
        "--models, then one with it (both from the day before), whole processes side by side",
    )  # fmt: skip
    parser.add_argument(
        "--keep-through", type=date.fromisoformat,
        help="reuse the snapshots and scores of the days up to this date if there (measure "
        "the later days only; their state from the day before must be there too)",
    )  # fmt: skip
    parser.add_argument(
        "--pairs", type=int, default=1,
        help="with --processes: this many pairs (without, with --models) per day; prints "
        "each pair and the ratio of the medians",
    )  # fmt: skip
    args = parser.parse_args()
    assert 1 <= args.pairs <= 20
    work: Path = args.work
    book, snaps, models = work / "book", work / "snapshots", work / "models"
    t = time.perf_counter()
    if not (book / "manifest.json").is_file():
        generate_book(TwinSpec(accounts=args.accounts, months=args.months, seed=args.seed), book)
    manifest = json.loads((book / "manifest.json").read_text())
    first = date.fromisoformat(manifest["first_date"])
    last = date.fromisoformat(manifest["last_date"])
    ends = [d for d in month_ends(first, last) if d < last][:-1] or [last]
    done = set(snapshot_dates(snaps))
    for day in ends:
        if day not in done:
            run_eod(book, day, snaps)
    print(f"book + month-end batches: {time.perf_counter() - t:.0f} s ({len(ends)} month ends)")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    figures = {}
    for name in ("early_warning", "collection"):
        t = time.perf_counter()
        options = BookTrainOptions(TargetConfig(name), seed=args.seed, effort=args.effort)
        if (models / name / "registry.json").is_file():  # trained by an earlier run: reuse
            info = read_book_info(models / name)
        else:
            _folder, info = train_book_model(book, snaps, models / name, options, created)
        c = info["validation"]["champion"]
        (work / f"gains_{name}.svg").write_text(gains_svg(c["gains"], f"{name} (validation)"))
        figures[name] = {k: round(c[k], 4) for k in ("auc", "ks", "gini", "capture_10",
                                                     "capture_20", "base_rate")}  # fmt: skip
        figures[name].update(n=c["n"], kind=info["kind"], train_dates=len(info["train_dates"]),
                             valid=info["valid_dates"], seconds=round(time.perf_counter() - t))  # fmt: skip
        print(name, json.dumps(figures[name]))
    if args.prepare_only:
        return
    base = ends[-1]
    assert 1 <= args.days <= 28
    rows = []
    keep_through = args.keep_through or (base + timedelta(days=1 if args.keep_first else 0))
    for k in range(1, args.days + 1):
        day = base + timedelta(days=k)
        if day <= keep_through and (snapshot_path(snaps, day) / "scores").is_dir():
            print(f"{day}: kept from an earlier run (not measured)")
            continue
        if day in set(snapshot_dates(snaps)):
            shutil.rmtree(snapshot_path(snaps, day))  # measure the daily run again
        if args.processes:
            rows.append(daily_processes(book, snaps, models, day, args.pairs))
            continue
        t, c = time.perf_counter(), time.process_time()
        # as overdue eod --models: the scoring takes the rows kept, the columns it reads
        handoff = AccountHandoff(INPUT_SCHEMA.names)
        run_eod(book, day, snaps, handoff=handoff)
        batch, batch_cpu = time.perf_counter() - t, time.process_time() - c
        for again in range(args.rescore + 1):  # the last scoring's state is the one kept
            t, c = time.perf_counter(), time.process_time()
            scored = score_snapshot(snaps, day, models, book_dir=book, prune=again == args.rescore,
                                    handoff=handoff)  # fmt: skip
            scoring, scoring_cpu = time.perf_counter() - t, time.process_time() - c
            load = "/".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"{day}: batch {batch:.1f} s ({batch_cpu:.1f} s CPU), scoring {scoring:.1f} s "
                  f"({scoring_cpu:.1f} s CPU) (+{scoring / batch:.0%}, CPU "
                  f"+{scoring_cpu / batch_cpu:.0%}); fresh {scored.fresh}, carried "
                  f"{scored.carried}, {scored.seconds}, items {scored.items}, load {load}")  # fmt: skip
        fresh, carried = sum(scored.fresh.values()), sum(scored.carried.values())
        rows.append(f"| {day} | {batch:.1f} s / {batch_cpu:.1f} s | {scoring:.1f} s / "
                    f"{scoring_cpu:.1f} s | {scoring / batch:+.0%} / "
                    f"{scoring_cpu / batch_cpu:+.0%} | {fresh:,} / {carried:,} | "
                    f"{scored.items.get('source', '')} | {load} |")  # fmt: skip
    if args.processes:
        print("\n| day | pairs | `overdue eod`, median (wall / CPU) | with `--models`, median "
              "(wall / CPU) | more (wall / CPU) | fresh / carried | load (1/5/15 min) |"
              "\n|---|---|---|---|---|---|---|")  # fmt: skip
        print("\n".join(rows))
        return
    print("\n| day | batch (wall / CPU) | scoring (wall / CPU) | scoring ÷ batch (wall / CPU) "
          "| fresh / carried | item aggregates from | load (1/5/15 min) |"
          "\n|---|---|---|---|---|---|---|")  # fmt: skip
    print("\n".join(rows))


def _timed_process(command: list[str]) -> tuple[float, float, dict]:
    """Wall and CPU seconds (the child's, all its threads) of one process, and its JSON."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout)


def daily_processes(book: Path, snaps: Path, models: Path, day: date, pairs: int = 1) -> str:
    """The day's daily run as a process without and with --models (each from the day
    before; the day's snapshot removed before each), ``pairs`` times in turn: a table row of
    the medians (each pair printed)."""
    eod = [sys.executable, "-m", "overdue", "eod", str(book), "--as-of", day.isoformat(),
           "--out", str(snaps), "--json"]  # fmt: skip
    runs: list[tuple[float, float, float, float]] = []
    for pair in range(pairs):
        if pair:
            shutil.rmtree(snapshot_path(snaps, day))
        plain, plain_cpu, alone = _timed_process(eod)
        shutil.rmtree(snapshot_path(snaps, day))
        both, both_cpu, summary = _timed_process([*eod, "--models", str(models)])
        runs.append((plain, plain_cpu, both, both_cpu))
        scored = summary["scores"]
        load = "/".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{day}: eod {plain:.1f} s ({plain_cpu:.1f} s CPU), with --models {both:.1f} s "
              f"({both_cpu:.1f} s CPU): {both / plain - 1:+.0%} wall, "
              f"{both_cpu / plain_cpu - 1:+.0%} CPU; batch {alone['seconds']} alone, "
              f"{summary['seconds']} with the models' load beside it; scoring "
              f"{scored['seconds']}; outside the steps (start-up, exit) "
              f"{plain - sum(alone['seconds'].values()):.1f} s / "
              f"{both - sum(summary['seconds'].values()) - sum(scored['seconds'].values()):.1f} s"
              f", load {load}")  # fmt: skip
    plain, plain_cpu, both, both_cpu = (statistics.median(r[i] for r in runs) for i in range(4))
    fresh, carried = sum(scored["fresh"].values()), sum(scored["carried"].values())
    spread = ""
    if pairs > 1:
        ratios = sorted(r[2] / r[0] - 1 for r in runs)
        spread = (f" (pairs {ratios[0]:+.0%} to {ratios[-1]:+.0%}, median "
                  f"{statistics.median(ratios):+.0%})")  # fmt: skip
    return (f"| {day} | {pairs} | {plain:.1f} s / {plain_cpu:.1f} s | {both:.1f} s / "
            f"{both_cpu:.1f} s | {both / plain - 1:+.0%}{spread} / "
            f"{both_cpu / plain_cpu - 1:+.0%} | {fresh:,} / {carried:,} | {load} |")  # fmt: skip


if __name__ == "__main__":
    main()

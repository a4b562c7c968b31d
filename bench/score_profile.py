"""One day's daily run in a fresh process, as `overdue eod --models` runs it: the batch, then
the scoring, side by side, with the scoring's page faults and resident memory (where most of its
spread between runs comes from: memory faulted in after the batch).

    nice -n 5 .venv/bin/python -u bench/score_profile.py --work /work/b1m --day 2024-12-03
    ... --cprofile          # and the scoring's 40 costliest calls
    ... --perf-fifo CTL     # perf record -D -1 --control=fifo:CTL ...: perf on the scoring only
    ... --no-handoff        # the scoring reads the day's account files back

--work is a `bench/score_eod.py` folder (book/, snapshots/, models/). The day's snapshot is
removed and made again; its previous day's kept state must be there (after
`score_eod.py --days 4`, run `--days 3 --keep-first` first to profile 12-03).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import shutil
import time
from datetime import date
from pathlib import Path

from overdue.portfolio.account_handoff import AccountHandoff
from overdue.portfolio.eod import run_eod, snapshot_path
from overdue.scoring import daily_items
from overdue.scoring.daily_items import INPUT_SCHEMA
from overdue.scoring.score_eod import load_book_models, score_snapshot


def _status(key: str) -> int:
    """A ``/proc/self/status`` figure in MiB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) // 1024
    raise KeyError(key)


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--day", type=date.fromisoformat, required=True)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--no-handoff", action="store_true",
                        help="read the day's account files back (not the batch's rows)")
    parser.add_argument("--perf-fifo", type=Path, help="perf's control FIFO (enable/disable)")
    args = parser.parse_args()
    book, snaps, models = args.work / "book", args.work / "snapshots", args.work / "models"
    load_book_models(models)  # as `overdue eod --models` does beside the batch
    daily_items.warm_up()
    shutil.rmtree(snapshot_path(snaps, args.day), ignore_errors=True)
    t, c = time.perf_counter(), time.process_time()
    handoff = None if args.no_handoff else AccountHandoff(INPUT_SCHEMA.names)
    run_eod(book, args.day, snaps, handoff=handoff)
    batch, batch_cpu = time.perf_counter() - t, time.process_time() - c
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak (VmHWM) from here on
    faults, rss = _faults(), _status("VmRSS")
    profile = cProfile.Profile() if args.cprofile else None
    if args.perf_fifo:
        args.perf_fifo.write_text("enable\n")
    t, c = time.perf_counter(), time.process_time()
    if profile:
        profile.enable()
    scored = score_snapshot(snaps, args.day, models, book_dir=book, handoff=handoff)
    if profile:
        profile.disable()
    scoring, scoring_cpu = time.perf_counter() - t, time.process_time() - c
    if args.perf_fifo:
        args.perf_fifo.write_text("disable\n")
    print(f"{args.day}: batch {batch:.2f} s ({batch_cpu:.2f} s CPU), scoring {scoring:.2f} s "
          f"({scoring_cpu:.2f} s CPU): +{scoring / batch:.0%} wall, "
          f"+{scoring_cpu / batch_cpu:.0%} CPU; {scored.seconds}")  # fmt: skip
    print(f"scoring: {_faults() - faults} page faults, resident {rss} -> peak "
          f"{_status('VmHWM')} -> {_status('VmRSS')} MiB")  # fmt: skip
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()

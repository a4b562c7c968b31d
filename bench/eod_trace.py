"""One `overdue eod` process with time marks around the batch (`run_eod`) and the scoring
(`score_snapshot`), and at the end of the command: where a process's time goes outside the
steps the batch and the scoring report (start-up, exit).

    rm -rf /work/b1m/snapshots/as_of=2024-12-03
    time .venv/bin/python bench/eod_trace.py eod /work/b1m/book --as-of 2024-12-03 \\
        --out /work/b1m/snapshots --json [--models /work/b1m/models]

The marks (seconds since the interpreter started this script) go to stderr.
"""

from __future__ import annotations

import atexit
import sys
import time
from typing import Any

STARTED = time.time()
MARKS: list[tuple[str, float]] = []


def mark(name: str) -> None:
    MARKS.append((name, round(time.time() - STARTED, 2)))


def main() -> None:
    import overdue.cli as cli
    import overdue.portfolio.eod as eod
    import overdue.scoring.score_eod as score_eod

    mark("imported")
    run_eod, score_snapshot = eod.run_eod, score_eod.score_snapshot

    def traced_run(*args: Any, **kwargs: Any) -> Any:
        mark("batch start")
        result = run_eod(*args, **kwargs)
        mark("batch end")
        return result

    def traced_score(*args: Any, **kwargs: Any) -> Any:
        mark("scoring start")
        result = score_snapshot(*args, **kwargs)
        mark("scoring end")
        print("scoring steps", result.seconds, file=sys.stderr)
        return result

    eod.run_eod, score_eod.score_snapshot = traced_run, traced_score
    atexit.register(lambda: print("marks", [*MARKS, ("exit", round(time.time() - STARTED, 2))],
                                  file=sys.stderr))  # fmt: skip
    try:
        cli.app(sys.argv[1:], standalone_mode=False)
    finally:
        mark("command end")


if __name__ == "__main__":
    main()

"""``overdue eod``: the end-of-day batch over the whole book."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from overdue.portfolio.account_handoff import AccountHandoff

EXAMPLE = """
Example:

  overdue twin generate --accounts 10000 --months 12 --seed 1 --out book/

  overdue eod book/ --as-of 2026-03-15 --out snapshots/            # DuckDB (default)

  overdue eod book/ --as-of 2026-03-16 --out snapshots/ --engine spark

  overdue eod book/ --as-of 2026-03-17 --out snapshots/ --models models/   # and score it
"""


def register(app: typer.Typer) -> None:
    @app.command("eod", epilog=EXAMPLE)
    def eod_command(
        data_dir: Path = typer.Argument(..., help="The book (see docs/data-contract.md)."),
        as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD."),
        out: Path = typer.Option(..., "--out", help="Snapshot folder (one as_of=DATE partition per run)."),
        engine: str = typer.Option("duckdb", "--engine", help="duckdb or spark."),
        rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild from history even if a snapshot exists."),
        as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
        models: Path | None = typer.Option(
            None, "--models", help="Score the snapshot with the book models in this folder "
            "(early_warning/, collection/): writes SNAPSHOT_DIR/as_of=D/scores/.",
        ),
        spread_days: int | None = typer.Option(
            None, "--spread-days", min=0, max=7,
            help="With --models: spread the window-entry scores of accounts sharing a due date "
            "over this many more days (0: all on the day the 7-day window opens; default 2).",
        ),
    ) -> None:
        """Every account's state at the end of AS_OF, incremental from the latest earlier snapshot."""
        from overdue.cli import BadInput
        from overdue.commands.account_state import parse_as_of
        from overdue.portfolio.account_handoff import AccountHandoff
        from overdue.portfolio.eod import EodError, run_eod

        if engine not in ("duckdb", "spark"):
            raise BadInput(f"--engine: {engine!r} must be duckdb or spark")
        # the scoring takes the account rows the batch wrote from memory, not from the files
        handoff = AccountHandoff() if models is not None and engine == "duckdb" else None
        with ThreadPoolExecutor(1, thread_name_prefix="overdue-models") as pool:
            # the models load beside the batch (it leaves a core idle part of its time)
            loaded = None if models is None else pool.submit(_preload, models, handoff)
            try:
                result = run_eod(data_dir, parse_as_of(as_of), out, engine=engine,
                                 rebuild=rebuild, handoff=handoff)  # fmt: skip
            except EodError as exc:
                raise BadInput(str(exc)) from None
            if loaded is not None:
                loaded.result()
        summary = dict(result.__dict__)
        scored = None
        if models is not None:
            from overdue.scoring.score_eod import SPREAD_DAYS, score_snapshot

            spread = SPREAD_DAYS if spread_days is None else spread_days
            scored = score_snapshot(out, parse_as_of(as_of), models, engine, book_dir=data_dir,
                                    spread_days=spread, handoff=handoff)  # fmt: skip
            summary["scores"] = scored.__dict__
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
            return
        from rich.console import Console

        Console().print(
            f"[bold]{result.as_of}[/bold] {result.mode} on {result.engine}: {result.accounts} accounts "
            f"({result.resumed} resumed, {result.replayed} replayed), {result.transitions} bucket "
            f"transitions → {result.snapshot}  {result.seconds}"
        )
        if scored is not None:
            Console().print(
                f"scores → {scored.path}: fresh {scored.fresh}, carried {scored.carried}  "
                f"{scored.seconds}"
            )


def _preload(models: Path, handoff: AccountHandoff | None) -> None:
    """Import the scoring, narrow ``handoff`` to the account columns it reads and load the
    book models into its cache (``load_book_models``: compiled forests included), so that
    the scoring after the batch starts at once. A folder that does not load is left to the
    scoring, which raises its error."""
    from overdue.errors import BadInput
    from overdue.scoring import daily_items
    from overdue.scoring.score_eod import load_book_models

    if handoff is not None:  # the other columns go while the batch runs
        handoff.narrow(daily_items.INPUT_SCHEMA.names)
    try:
        load_book_models(models)
    except (BadInput, OSError, ValueError):
        return
    daily_items.warm_up()  # the day's merges, compiled, loaded here and not in the scoring

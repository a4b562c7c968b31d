"""``overdue demo``: the main job, end to end, on illustrative and synthetic data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

EXAMPLE = """
Example:

  overdue demo                       # writes out/demo/ and prints the illustrative states

  OVERDUE_NO_SERVE=1 overdue demo --out /tmp/demo
"""


def register(app: typer.Typer) -> None:
    @app.command("demo", epilog=EXAMPLE)
    def demo_command(
        out: Path = typer.Option(Path("out/demo"), "--out", help="Folder for the demo's outputs."),
        accounts: int = typer.Option(50_000, "--accounts", help="Accounts in the synthetic book."),
        months: int = typer.Option(12, "--months", help="Months of history in the book."),
        days: int = typer.Option(90, "--days", help="Last days of history run through the batch."),
        seed: int = typer.Option(1, "--seed", help="Seed of the synthetic book."),
    ) -> None:
        """Run the demo: the illustrative accounts (one per overdue rule), then a synthetic book
        run through the end-of-day batch for its last days, and the monitoring report."""
        from overdue.cli import BadInput
        from overdue.demo.run import run_demo

        if not 1 <= days <= 366 or accounts < 1 or not 2 <= months <= 120:
            raise BadInput("--days must be 1..366, --accounts ≥ 1, --months 2..120")
        run_demo(out, accounts=accounts, months=months, days=days, seed=seed)
        if os.environ.get("OVERDUE_NO_SERVE") == "1":
            return
        typer.echo(json.dumps({"outputs": str(out)}, ensure_ascii=False))

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
    ) -> None:
        """Run the demo: one illustrative account per overdue rule, with its state and reasons."""
        from overdue.demo.run import run_demo

        run_demo(out)
        if os.environ.get("OVERDUE_NO_SERVE") == "1":
            return
        typer.echo(json.dumps({"outputs": str(out)}, ensure_ascii=False))

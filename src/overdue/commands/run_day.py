"""``overdue run-day``: the daily run (end-of-day batch, scoring, decisions, gate, outbox)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import typer

EPILOG = (
    "Example: overdue run-day data/book --as-of 2024-07-01 --snapshots data/snapshots "
    "--strategy default --profile cn"
)


def register(app: typer.Typer) -> None:
    @app.command("run-day", epilog=EPILOG)
    def run_day_command(
        data_dir: Path = typer.Argument(
            ..., help="The book (DATA_DIR, see docs/data-contract.md)."
        ),
        as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD."),
        snapshots: Path | None = typer.Option(
            None, "--snapshots", help="Snapshot folder (default: DATA_DIR/../snapshots)."
        ),
        strategy: str = typer.Option(
            "default",
            "--strategy",
            help="Strategy spec file, or a shipped name (default, aggressive).",
        ),
        profile: str = typer.Option("cn", "--profile", help="Compliance profile: cn or us."),
        db: str | None = typer.Option(
            None,
            "--db",
            help="Store URL: enqueue into its outbox (default: a Parquet outbox file).",
        ),
        models: Path | None = typer.Option(None, "--models", help="Model folder to score with."),
        outbox: Path | None = typer.Option(
            None, "--outbox", help="Parquet outbox folder when no --db (default: SNAPSHOTS/outbox)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        links_base_url: str | None = typer.Option(
            None,
            "--links-base-url",
            help="Put each debtor's self-service link (signed with $OVERDUE_LINK_SECRET) in "
            "their e-mails, e.g. https://pay.example.com (where overdue serve runs).",
        ),
    ) -> None:
        """Run one business day: eod → scoring → decisions → gate → outbox (idempotent)."""
        from overdue.cli import fail
        from overdue.errors import BadInput

        try:
            _run(
                data_dir, as_of, snapshots, strategy, profile, db, models, outbox, as_json,
                links_base_url,
            )  # fmt: skip
        except BadInput as exc:
            raise fail(str(exc)) from None


def _renderer(links_base_url: str | None, day: date) -> Any:
    """The outbox renderer: the shipped templates, with self-service links when asked."""
    from overdue.errors import BadInput
    from overdue.strategy.wiring import SelfServiceLinks, renderer
    from overdue.web.settings import link_secret_from_env

    if links_base_url is None:
        return True
    if not links_base_url.startswith(("https://", "http://")):
        raise BadInput(f"--links-base-url: {links_base_url!r} must start with https:// or http://")
    return renderer(SelfServiceLinks(links_base_url, link_secret_from_env(), day))


def _run(
    data_dir: Path,
    as_of: str,
    snapshots: Path | None,
    strategy: str,
    profile: str,
    db: str | None,
    models: Path | None,
    outbox: Path | None,
    as_json: bool,
    links_base_url: str | None = None,
) -> None:
    from overdue.errors import BadInput
    from overdue.portfolio.eod import EodError
    from overdue.strategy.run_day import run_day

    try:
        day = date.fromisoformat(as_of.strip())
    except ValueError:
        raise BadInput(f"--as-of: {as_of!r} is not a date YYYY-MM-DD") from None
    if not (data_dir / "accounts.parquet").is_file():
        raise BadInput(f"{data_dir}: not a book (no accounts.parquet)")
    if profile not in ("cn", "us"):
        raise BadInput(f"--profile: {profile!r} must be cn or us")
    snaps = snapshots if snapshots is not None else data_dir.parent / "snapshots"
    render = _renderer(links_base_url, day)
    try:
        report = run_day(
            data_dir,
            day,
            snapshots=snaps,
            strategy=strategy,
            profile=profile,
            store_url=db,
            models=models,
            outbox_dir=outbox,
            render=render,
        )
    except EodError as exc:
        raise BadInput(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return
    typer.echo(f"run-day {report.as_of}")
    for step in report.steps:
        extra = ", ".join(f"{k} {v}" for k, v in step.detail.items())
        typer.echo(f"  {step.name:<10} {step.rows:>10,} rows {step.seconds:>8.2f} s  {extra}")
    if report.blocked_by_rule:
        blocked = ", ".join(f"{k} {v}" for k, v in sorted(report.blocked_by_rule.items()))
        typer.echo(f"  blocked by rule: {blocked}")

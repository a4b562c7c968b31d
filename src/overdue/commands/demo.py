"""``overdue demo``: the main job, end to end, on illustrative and synthetic data."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

EXAMPLE = """
Example:

  overdue demo                       # writes out/demo/ and prints the illustrative states

  OVERDUE_NO_SERVE=1 overdue demo --out /tmp/demo

At the end the demo serves the web app on http://127.0.0.1:8000/ and prints one login per role
(set OVERDUE_NO_SERVE=1 to write the outputs and exit instead).
"""


def serve_demo(result: Any, host: str, port: int) -> None:
    """Print the address and the seeded logins, then serve the app until interrupted."""
    from overdue.web.server import run_server
    from overdue.web.settings import WebSettings

    book = result.book
    settings = WebSettings(
        database_url=result.database_url,
        snapshot_dir=book.snapshots,
        book_dir=book.book,
        business_date=book.last_day,
        strategy_figures=result.strategy_figures,
    )
    typer.echo(f"Web app / 网页: http://{host}:{port}/  (Ctrl-C stops it)")
    for role, (username, password) in result.logins.items():
        typer.echo(f"  {role:<17} {username} / {password}")
    link = self_service_path(result.database_url, settings.link_secret, book.last_day)
    if link:
        typer.echo(f"  a customer's self-service page / 客户自助页面: http://{host}:{port}{link}")
    run_server(settings, host=host, port=port)


def self_service_path(database_url: str, secret: str, as_of: Any) -> str | None:
    """The self-service page of the customer of the first open case (None without one)."""
    import sqlalchemy as sa

    from overdue.cases.self_service_links import issue_token
    from overdue.store.db import make_engine
    from overdue.store.tables import Case

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            customer_id = conn.execute(
                sa.select(Case.customer_id)
                .where(Case.status == "open")
                .order_by(Case.case_id)
                .limit(1)
            ).scalar()
    finally:
        engine.dispose()
    return None if customer_id is None else f"/self/{issue_token(secret, customer_id, as_of=as_of)}"


def register(app: typer.Typer) -> None:
    @app.command("demo", epilog=EXAMPLE)
    def demo_command(
        out: Path = typer.Option(Path("out/demo"), "--out", help="Folder for the demo's outputs."),
        accounts: int = typer.Option(50_000, "--accounts", help="Accounts in the synthetic book."),
        months: int = typer.Option(12, "--months", help="Months of history in the book."),
        days: int = typer.Option(90, "--days", help="Last days of history run through the batch."),
        seed: int = typer.Option(1, "--seed", help="Seed of the synthetic book."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address the web app listens on."),
        port: int = typer.Option(8000, "--port", help="Port the web app listens on."),
    ) -> None:
        """Run the demo: the illustrative accounts (one per overdue rule), then a synthetic book
        run through the end-of-day batch for its last days, and the monitoring report."""
        from overdue.cli import BadInput
        from overdue.demo.run import run_demo

        if not 1 <= days <= 366 or accounts < 1 or not 2 <= months <= 120:
            raise BadInput("--days must be 1..366, --accounts ≥ 1, --months 2..120")
        result = run_demo(out, accounts=accounts, months=months, days=days, seed=seed)
        if os.environ.get("OVERDUE_NO_SERVE") == "1":
            typer.echo(json.dumps({"outputs": str(out)}, ensure_ascii=False))
            return
        serve_demo(result, host, port)

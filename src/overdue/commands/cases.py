"""``overdue cases``: open/update/close cases from a snapshot, decide promises, purge old
personal data, print customers' self-service links, load a large synthetic case set for
benchmarks."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from overdue.errors import BadInput

if TYPE_CHECKING:
    from overdue.cases.config import CasesConfig

cases_app = typer.Typer(
    name="cases",
    help="Collection cases in the operational store (see docs/operations/cases.md).",
    no_args_is_help=True,
)

URL_HELP = "Database URL (default: $OVERDUE_DATABASE_URL, else sqlite:///overdue.db)."
BENCH_PASSWORD_HINT = "bench-collector-NNN-pass"
CONFIG_HELP = "Settings file (TOML: [entry], [promises], [plans], [authority], [retention])."


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{option}: {text!r} is not a date YYYY-MM-DD") from None


def _config(path: Path | None) -> CasesConfig:
    from overdue.cases.config import CasesConfigError, load_config

    try:
        return load_config(path)
    except CasesConfigError as exc:
        raise BadInput(str(exc)) from None


@cases_app.command(
    "sync",
    epilog="Example: overdue cases sync out/snapshots --as-of 2024-06-30 --book data/twin",
)
def sync_command(
    snapshot_dir: Path = typer.Argument(..., help="Snapshot folder written by overdue eod."),
    as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD."),
    book: Path | None = typer.Option(None, "--book", help="The book (customers' language etc.)."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    assign: bool = typer.Option(True, "--assign/--no-assign", help="Assign new cases."),
) -> None:
    """Open, update and close cases from the snapshot of --as-of (migrates the store first)."""
    from overdue.cases.queues import DEFAULT_QUEUES
    from overdue.cases.seed import sync_and_assign
    from overdue.store import migrate
    from overdue.store.db import make_engine

    day = _date(as_of, "--as-of")
    settings = _config(config)
    if book is not None and not (book / "accounts.parquet").is_file():
        raise BadInput(f"--book {book}: not a book (no accounts.parquet)")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine=engine)
        result = sync_and_assign(
            engine,
            snapshot_dir,
            day,
            settings.entry,
            book_dir=book,
            assign=assign,
            queues=settings.queues or DEFAULT_QUEUES,
        )
    finally:
        engine.dispose()
    typer.echo(result.summary())


@cases_app.command(
    "promises",
    epilog="Example: overdue cases promises --as-of 2024-07-05 --url sqlite:///overdue.db",
)
def promises_command(
    as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
    mark_sent: bool = typer.Option(False, "--mark-sent", help="Mark the listed reminders as sent."),
) -> None:
    """Decide kept/broken promises, plans and settlements; list the reminders due."""
    from overdue.cases.plans import evaluate_plans
    from overdue.cases.promise_keeping import decide_promises, mark_reminders_sent, reminders_due
    from overdue.cases.settlements import evaluate_settlements
    from overdue.store.db import make_engine, session_scope

    day = _date(as_of, "--as-of")
    settings = _config(config)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            run = decide_promises(session, day, settings.promises)
            plans = evaluate_plans(session, day)
            settled = evaluate_settlements(session, day)
            due = reminders_due(session, day)
            if mark_sent:
                mark_reminders_sent(session, [r.promise_id for r in due], day)
    finally:
        engine.dispose()
    typer.echo(run.summary())
    typer.echo(f"plans: {plans or 'no change'}; settlements: {settled or 'no change'}")
    typer.echo(f"{len(due)} reminders due")
    for r in due[:50]:
        typer.echo(
            f"  case {r.case_id} customer {r.customer_id}: {r.amount_fen / 100:.2f} "
            f"by {r.promised_date} ({r.language})"
        )


@cases_app.command(
    "export-waivers",
    epilog="Example: overdue cases export-waivers data/book --snapshots out/snapshots "
    "--as-of 2024-07-05 --url sqlite:///overdue.db",
)
def export_waivers_command(
    book: Path = typer.Argument(..., help="The book (data contract) to book the waivers into."),
    snapshots: Path = typer.Option(..., "--snapshots", help="The end-of-day snapshot folder."),
    as_of: str = typer.Option(..., "--as-of", help="Booking date YYYY-MM-DD (run before eod)."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """Book approved waivers and paid settlements' discounts into the book's waivers table."""
    from overdue.cases.waivers import export_waivers
    from overdue.errors import BadInput
    from overdue.store.db import make_engine, session_scope

    day = _date(as_of, "--as-of")
    for name, folder in (("BOOK", book), ("--snapshots", snapshots)):
        if not folder.is_dir():
            raise BadInput(f"{name}: {folder} is not a folder")
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            result = export_waivers(session, book, snapshots, day)
    finally:
        engine.dispose()
    typer.echo(result.summary())


@cases_app.command(
    "purge", epilog="Example: overdue cases purge --as-of 2030-01-01 --config cases.toml"
)
def purge_command(
    as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    config: Path | None = typer.Option(None, "--config", help=CONFIG_HELP),
) -> None:
    """Purge personal data of customers whose last case closed more than keep_years ago."""
    from overdue.cases.access import SYSTEM
    from overdue.cases.retention import purge_personal_data
    from overdue.store.db import make_engine, session_scope

    day = _date(as_of, "--as-of")
    settings = _config(config)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            purged = purge_personal_data(session, SYSTEM, day, settings.retention)
    finally:
        engine.dispose()
    typer.echo(
        f"{purged} customers' personal data purged (kept {settings.retention.keep_years} years)"
    )


@cases_app.command(
    "bulk-load",
    epilog="Example: overdue cases bulk-load 1000000 --seed 1 --collectors 50 "
    "--url postgresql+psycopg://postgres@127.0.0.1:5432/bench",
)
def bulk_load_command(
    count: int = typer.Argument(..., help="How many synthetic cases to load."),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same cases)."),
    collectors: int = typer.Option(
        50, "--collectors", help="Create this many bench collectors and spread cases over them."
    ),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """Load synthetic customers, accounts and open cases for benchmarks (migrates first)."""
    from overdue.cases.bulk import bulk_load_cases, ensure_bench_collectors
    from overdue.store import migrate
    from overdue.store.db import make_engine

    if not 0 <= collectors <= 10_000:
        raise BadInput(f"--collectors: {collectors} must be between 0 and 10000")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine=engine)
        ids = ensure_bench_collectors(engine, collectors)
        result = bulk_load_cases(engine, count, seed, collector_ids=ids)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    finally:
        engine.dispose()
    typer.echo(
        f"{result.cases} cases loaded in {result.seconds:.1f} s "
        f"(case ids {result.first_case_id}..{result.last_case_id}; "
        f"{len(ids)} collectors bench-collector-NNN, password {BENCH_PASSWORD_HINT})"
    )


@cases_app.command(
    "self-service-link",
    epilog="Example: overdue cases self-service-link C0000042 --as-of 2024-06-30 "
    "--base-url https://pay.example.com",
)
def self_service_link_command(
    customer_id: str = typer.Argument(..., help="The customer the link is for."),
    as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD (valid from)."),
    days: int = typer.Option(14, "--days", help="Days the link stays valid (1..60)."),
    base_url: str = typer.Option(
        "http://127.0.0.1:8000", "--base-url", help="Where overdue serve is reachable."
    ),
) -> None:
    """Print a customer's self-service link (signed with $OVERDUE_LINK_SECRET, the secret
    overdue serve checks links with)."""
    from overdue.cases.self_service_links import issue_token
    from overdue.web.settings import link_secret_from_env

    try:
        token = issue_token(
            link_secret_from_env(), customer_id, as_of=_date(as_of, "--as-of"), valid_days=days
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    typer.echo(f"{base_url.rstrip('/')}/self/{token}")


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app)

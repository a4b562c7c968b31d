"""``overdue db``: migrate the operational store (SQLite file by default, PostgreSQL by URL)."""

from __future__ import annotations

import typer

from overdue.errors import BadInput

db_app = typer.Typer(
    name="db",
    help="The operational store: apply or revert its migrations.",
    no_args_is_help=True,
)

URL_HELP = "Database URL (default: $OVERDUE_DATABASE_URL, else sqlite:///overdue.db)."


def _fail(exc: Exception) -> BadInput:
    return BadInput(f"database: {' '.join(str(exc).split())[:300]}")


@db_app.command(
    "upgrade",
    epilog="Example: overdue db upgrade --url postgresql+psycopg://postgres@127.0.0.1:5432/overdue",
)
def upgrade_command(
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
    revision: str = typer.Option("head", "--revision", help="Target revision (default: newest)."),
) -> None:
    """Apply migrations up to the newest revision."""
    from sqlalchemy.exc import SQLAlchemyError

    from overdue.store import migrate
    from overdue.store.db import database_url

    try:
        migrate.upgrade(url, revision)
        now = migrate.current(url)
    except SQLAlchemyError as exc:
        raise _fail(exc) from None
    typer.echo(f"{database_url(url).split('@')[-1]}: at revision {now}")


@db_app.command("downgrade", epilog="Example: overdue db downgrade base --url sqlite:///overdue.db")
def downgrade_command(
    revision: str = typer.Argument(..., help="Target revision, e.g. 0001, or 'base' (drops all)."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """Revert migrations down to REVISION ('base' removes every table)."""
    from sqlalchemy.exc import SQLAlchemyError

    from overdue.store import migrate

    try:
        migrate.downgrade(url, revision)
        now = migrate.current(url)
    except SQLAlchemyError as exc:
        raise _fail(exc) from None
    typer.echo(f"at revision {now or 'base'}")


@db_app.command("current", epilog="Example: overdue db current --url sqlite:///overdue.db")
def current_command(url: str | None = typer.Option(None, "--url", help=URL_HELP)) -> None:
    """Print the revision the database is at."""
    from sqlalchemy.exc import SQLAlchemyError

    from overdue.store import migrate

    try:
        typer.echo(migrate.current(url) or "base")
    except SQLAlchemyError as exc:
        raise _fail(exc) from None


def register(app: typer.Typer) -> None:
    app.add_typer(db_app)

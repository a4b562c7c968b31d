"""``overdue serve``: the web app and REST API (uvicorn)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

EPILOG = (
    "Example: overdue serve --host 127.0.0.1 --port 8000 --db sqlite:///overdue.db "
    "--snapshots out/demo/snapshots"
)


def register(app: typer.Typer) -> None:
    @app.command("serve", epilog=EPILOG)
    def serve_command(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
        db: str | None = typer.Option(
            None, "--db", help="Database URL (default: $OVERDUE_DATABASE_URL or ./overdue.db)."
        ),
        snapshots: Path | None = typer.Option(
            None, "--snapshots", help="End-of-day snapshot folder for the manager dashboard."
        ),
        book: Path | None = typer.Option(
            None, "--book", help="The book's folder (adds vintage curves to the dashboard)."
        ),
        workers: int = typer.Option(1, "--workers", help="Server processes (about one per core)."),
        secure_cookies: bool = typer.Option(
            False, "--secure-cookies", help="Mark cookies Secure (serve behind HTTPS)."
        ),
        profile: str = typer.Option(
            "cn",
            "--profile",
            help="Compliance profile people's contacts pass: cn, us or a TOML file.",
        ),
    ) -> None:
        """Serve the web pages and the REST API (OpenAPI at /openapi.json).

        The payments webhook secret comes from $OVERDUE_WEBHOOK_SECRET, the secret of customers'
        self-service links (overdue cases self-service-link) from $OVERDUE_LINK_SECRET."""
        from overdue.compliance.profile import load_profile
        from overdue.errors import BadInput
        from overdue.web.server import run_server
        from overdue.web.settings import WebSettings, link_secret_from_env

        if not 1 <= port <= 65535:
            raise BadInput(f"--port: {port} is not a TCP port (1..65535)")
        if not 1 <= workers <= 64:
            raise BadInput(f"--workers: {workers} must be 1..64")
        for name, folder in (("--snapshots", snapshots), ("--book", book)):
            if folder is not None and not folder.is_dir():
                raise BadInput(f"{name}: {folder} is not a folder")
        load_profile(profile)  # a bad profile is refused here, with its file and key
        secret = os.environ.get("OVERDUE_WEBHOOK_SECRET", "")
        if not secret:
            typer.echo(
                "warning: OVERDUE_WEBHOOK_SECRET is not set; the webhook uses a dev secret",
                err=True,
            )
        if not os.environ.get("OVERDUE_LINK_SECRET"):
            typer.echo(
                "warning: OVERDUE_LINK_SECRET is not set; self-service links use a dev secret",
                err=True,
            )
        settings = WebSettings(
            database_url=db,
            link_secret=link_secret_from_env(),
            snapshot_dir=snapshots,
            book_dir=book,
            webhook_secret=secret or "dev-secret-change-me",
            secure_cookies=secure_cookies,
            compliance_profile=profile,
        )
        typer.echo(f"Serving on http://{host}:{port}/ (Ctrl+C to stop)")
        run_server(settings, host, port, workers)

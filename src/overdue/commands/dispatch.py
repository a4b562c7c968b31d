"""``overdue dispatch``: send the outbox through the configured channel adapters."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer

from overdue.errors import BadInput

DISPATCH_EPILOG = (
    "Example: overdue dispatch --db postgresql://postgres@127.0.0.1/overdue "
    "--config channels.toml --workers 2 --once"
)


def _settings(overrides: dict[str, Any]) -> Any:
    from overdue.contact.dispatcher import DispatchSettings

    known = {f.name for f in fields(DispatchSettings)}
    try:
        return DispatchSettings(**{k: v for k, v in overrides.items() if k in known})
    except (TypeError, ValueError) as exc:
        raise BadInput(f"dispatch settings: {exc}") from None


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def run_dispatch(
    db: str | None,
    config_path: Path | None,
    workers: int,
    once: bool,
    max_seconds: float | None,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """What ``overdue dispatch`` does; returns the summary plus the outbox's status counts."""
    from overdue.contact.adapters.config import (
        ChannelConfigError,
        build_adapters,
        load_channel_config,
    )
    from overdue.contact.dispatcher import dispatch_parallel
    from overdue.contact.outbox import status_counts
    from overdue.store.db import make_engine

    try:
        config = load_channel_config(config_path)
    except ChannelConfigError as exc:
        raise BadInput(str(exc)) from None
    if not config.channels:
        raise BadInput("no channel configured: give --config FILE or OVERDUE_SMTP_HOST / "
                       "OVERDUE_WEBHOOK_<CHANNEL>_URL / OVERDUE_FILES_DIR")
    values = {**config.dispatch, **overrides, "once": once, "max_seconds": max_seconds}
    settings = _settings(values)
    engine = make_engine(db)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        summary = dispatch_parallel(
            engine, lambda: build_adapters(config), workers=workers,
            worker_prefix=f"{socket.gethostname()}:{os.getpid()}", settings=settings, stop=stop,
        )
        counts = status_counts(engine)
    finally:
        engine.dispose()
    return {"channels": config.channels, "workers": workers, **summary.as_dict(), "outbox": counts}


def register(app: typer.Typer) -> None:
    @app.command("dispatch", epilog=DISPATCH_EPILOG)
    def dispatch_command(
        db: str = typer.Option(None, "--db", help="Store URL (default: OVERDUE_DATABASE_URL or ./overdue.db)."),
        config: Path = typer.Option(None, "--config", help="Channel adapters TOML (see docs/operations/dispatch.md)."),
        workers: int = typer.Option(1, "--workers", min=1, max=32, help="Parallel workers (threads)."),
        once: bool = typer.Option(False, "--once", help="Send what is due now, then exit."),
        max_seconds: float = typer.Option(None, "--max-seconds", min=0.001, help="Stop after this long."),
        batch_size: int = typer.Option(None, "--batch-size", min=1, max=1000, help="Rows claimed per batch (≤ 1000)."),
        lease_seconds: float = typer.Option(None, "--lease-seconds", help="After this long a 'sending' row of a vanished worker is claimed again."),
        max_attempts: int = typer.Option(None, "--max-attempts", min=1, max=20, help="Attempts before a row is dead."),
    ) -> None:
        """Send due outbox rows (SMTP e-mail; sms / voice_robot / push webhooks; letter / agency / legal files)."""
        overrides = {
            name: value
            for name, value in (("batch_size", batch_size), ("lease_seconds", lease_seconds),
                                ("max_attempts", max_attempts))
            if value is not None
        }
        result = run_dispatch(db, config, workers, once, max_seconds, overrides)
        typer.echo(json.dumps(result, sort_keys=True))

"""``overdue dispatch`` (send the outbox through the channel adapters), ``overdue inbound`` (load
inbound events) and ``overdue agency-results`` (validate an agency's results files)."""

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


def _require_store(engine: Any) -> None:
    """A one-line error when the store has not been created (migrated) yet."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    try:
        ready = inspect(engine).has_table("outbox")
    except SQLAlchemyError as exc:
        raise BadInput(f"store {engine.url!r}: cannot connect ({type(exc).__name__})") from None
    if not ready:
        raise BadInput(f"store {engine.url!r} has no outbox table: run overdue db upgrade first")


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
    capture: Path | None = None,
) -> dict[str, Any]:
    """What ``overdue dispatch`` does; returns the summary plus the outbox's status counts."""
    from overdue.contact.adapters.config import (
        ChannelConfigError,
        build_adapters,
        capture_config,
        load_channel_config,
    )
    from overdue.contact.dispatcher import dispatch_parallel
    from overdue.contact.outbox import status_counts
    from overdue.store.db import make_engine

    if capture is not None and config_path is not None:
        raise BadInput("--capture and --config exclude each other")
    try:
        config = load_channel_config(config_path)
    except ChannelConfigError as exc:
        raise BadInput(str(exc)) from None
    if capture is not None:
        config = capture_config(capture, config.dispatch)
    if not config.channels:
        raise BadInput("no channel configured: give --config FILE or OVERDUE_SMTP_HOST / "
                       "OVERDUE_WEBHOOK_<CHANNEL>_URL / OVERDUE_FILES_DIR")
    values = {**config.dispatch, **overrides, "once": once, "max_seconds": max_seconds}
    settings = _settings(values)
    engine = make_engine(db)
    _require_store(engine)
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
        capture: Path = typer.Option(None, "--capture", help="Send nothing: write every message to DIR/<channel>/<key>.json (demo, dry run)."),
    ) -> None:
        """Send due outbox rows (SMTP e-mail; sms / voice_robot / push webhooks; letter / agency / legal files)."""
        overrides = {
            name: value
            for name, value in (("batch_size", batch_size), ("lease_seconds", lease_seconds),
                                ("max_attempts", max_attempts))
            if value is not None
        }
        result = run_dispatch(db, config, workers, once, max_seconds, overrides, capture)
        typer.echo(json.dumps(result, sort_keys=True))

    _register_inbound(app)


INBOUND_EPILOG = (
    "Example: overdue inbound replies.jsonl --kind reply --db sqlite:///overdue.db"
)
MAX_INBOUND_FILE_BYTES = 200 * 1024 * 1024
BOOLEAN_FIELDS = ("connected", "right_party", "conversation")


def _csv_event(row: dict[str, str]) -> dict[str, Any]:
    event: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
    if "amount_fen" in event:
        text = str(event["amount_fen"]).strip()
        event["amount_fen"] = int(text) if text.lstrip("-").isdigit() else text
    for name in BOOLEAN_FIELDS:
        if name in event:
            word = str(event[name]).strip().lower()
            event[name] = {"true": True, "1": True, "false": False, "0": False}.get(word, word)
    return event


def read_events(path: Path) -> list[dict[str, Any]]:
    """Events from JSON Lines (``.jsonl``: one object per line) or CSV (one event per row)."""
    import csv

    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    if path.stat().st_size > MAX_INBOUND_FILE_BYTES:
        raise BadInput(f"{path}: larger than {MAX_INBOUND_FILE_BYTES} bytes; split it")
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return [_csv_event(row) for row in csv.DictReader(handle)]
    events = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{path}: line {number}: not JSON ({exc.msg})") from None
            if not isinstance(event, dict):
                raise BadInput(f"{path}: line {number}: not a JSON object")
            events.append(event)
    return events


def run_inbound(path: Path, kind: str, db: str | None) -> dict[str, Any]:
    """What ``overdue inbound`` does: store the file's events once each and act on the new ones."""
    from overdue.contact.inbound import KINDS, InboundError, receive
    from overdue.store.db import make_engine, session_scope

    if kind not in KINDS:
        raise BadInput(f"--kind: {kind!r} is not one of {', '.join(KINDS)}")
    events = read_events(path)
    engine = make_engine(db)
    _require_store(engine)
    try:
        with session_scope(engine) as session:
            result = receive(session, kind, events)
    except InboundError as exc:
        raise BadInput(f"{path}: {exc}") from None
    finally:
        engine.dispose()
    return {
        "kind": kind,
        "events": len(events),
        "inserted": result.inserted,
        "duplicates": result.duplicates,
        "opt_outs": len(result.opt_outs),
        "unapplied_opt_outs": [o.address for o in result.unapplied_opt_outs],
        "matched_outbox": result.matched_outbox,
        "payments_recorded": result.payments_recorded,
        "conflicts": result.conflicts,
    }


AGENCY_EPILOG = (
    "Example: overdue agency-results acme_2026-11-28.xlsx --agency acme --errors rejected.csv "
    "--contacts-out acme_contacts.parquet"
)


def run_agency_results(
    paths: list[Path], agency: str, errors_out: Path | None, contacts_out: Path | None,
    payments_out: Path | None,
) -> dict[str, Any]:
    """Validate an agency's results files; write the quarantine report and the Arrow tables."""
    import pyarrow.parquet as pq

    from overdue.contact.agency_files import read_agency_results, write_errors

    for path in paths:
        if not path.is_file():
            raise BadInput(f"{path}: no such file")
    try:
        results = read_agency_results(paths, agency=agency)
    except (OSError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    if errors_out is not None:
        write_errors(results.errors, errors_out)
    if contacts_out is not None:
        pq.write_table(results.contacts, contacts_out)
    if payments_out is not None:
        pq.write_table(results.payments, payments_out)
    return {
        "agency": agency,
        "contacts": results.contacts.num_rows,
        "payments": results.payments.num_rows,
        "rejected_rows": len(results.errors),
        "first_errors": [str(e) for e in results.errors[:5]],
    }


def _register_inbound(app: typer.Typer) -> None:
    @app.command("inbound", epilog=INBOUND_EPILOG)
    def inbound_command(
        path: Path = typer.Argument(..., help="Events: JSON Lines (.jsonl) or CSV."),
        kind: str = typer.Option(..., "--kind", help="payment, delivery_receipt, call_outcome or reply."),
        db: str = typer.Option(None, "--db", help="Store URL (default: OVERDUE_DATABASE_URL or ./overdue.db)."),
    ) -> None:
        """Store inbound events once each (replays are no-ops); STOP / 退订 replies opt the customer out."""
        typer.echo(json.dumps(run_inbound(path, kind, db), ensure_ascii=False, sort_keys=True))

    @app.command("agency-results", epilog=AGENCY_EPILOG)
    def agency_results_command(
        paths: list[Path] = typer.Argument(..., help="Results files: CSV or xlsx (contacts / payments sheets)."),
        agency: str = typer.Option(..., "--agency", help="The agency that sent the files."),
        errors: Path = typer.Option(None, "--errors", help="Write rejected rows (file, row, column, reason) here."),
        contacts_out: Path = typer.Option(None, "--contacts-out", help="Valid contacts as Parquet."),
        payments_out: Path = typer.Option(None, "--payments-out", help="Valid payments as Parquet."),
    ) -> None:
        """Validate an agency's reported contacts and payments, row by row."""
        result = run_agency_results(paths, agency, errors, contacts_out, payments_out)
        typer.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))

"""Sustained dispatch rate with the local receivers, on PostgreSQL.

    nice .venv/bin/python bench/dispatch.py --messages 5000 --workers 1 2 [--db URL]

For each worker count: a fresh schema (migrated), ``--messages`` outbox rows enqueued (a third
each e-mail, SMS and push), then ``overdue dispatch --once --workers N`` run as a subprocess
against a real local SMTP server (aiosmtpd) and a local HTTP webhook receiver, both in this
process. Prints the enqueue rate, the dispatcher's own rate (sent / its running seconds, start-up
excluded), the wall time of the subprocess and the delivery check (every key exactly once).
No timing is asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "contact"))

from contact_receivers import SmtpReceiver, WebhookReceiver  # noqa: E402
from contact_rows import outbox_rows  # noqa: E402

from overdue.contact.outbox import enqueue  # noqa: E402
from overdue.store import migrate  # noqa: E402
from overdue.store.db import make_engine, session_scope  # noqa: E402
from overdue.store.testing import postgres_base_url, postgres_schema  # noqa: E402

SECRET = "bench-secret"


def run_once(base_url: str, messages: int, workers: int, batch_size: int) -> dict[str, object]:
    with postgres_schema(base_url, prefix="bench_dispatch") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        due = datetime.now(UTC) - timedelta(minutes=1)
        rows = outbox_rows(messages, channels=("email", "sms", "push"), at=due)
        started = time.perf_counter()
        with session_scope(engine) as session:
            inserted, _ = enqueue(session, rows, now=due)
        enqueue_seconds = time.perf_counter() - started
        engine.dispose()
        with SmtpReceiver() as smtp, WebhookReceiver(SECRET) as hook, \
                tempfile.TemporaryDirectory() as work:
            config = Path(work) / "channels.toml"
            config.write_text(
                f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\n'
                + "".join(f'[webhook.{c}]\nurl = "{hook.url(c)}"\nsecret = "{SECRET}"\n'
                          for c in ("sms", "push")),
                encoding="utf-8",
            )
            command = [sys.executable, "-m", "overdue", "dispatch", "--db", url, "--config",
                       str(config), "--once", "--workers", str(workers), "--batch-size",
                       str(batch_size)]
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=True,
                                  env={**os.environ})
            wall_seconds = time.perf_counter() - started
            counts = smtp.arrivals.counts() + hook.arrivals.counts()
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    exactly_once = len(counts) == messages and set(counts.values()) == {1}
    return {
        "messages": messages,
        "workers": workers,
        "batch_size": batch_size,
        "enqueued": inserted,
        "enqueue_rows_per_second": round(inserted / enqueue_seconds),
        "sent": summary["sent"],
        "dispatch_seconds": summary["seconds"],
        "messages_per_second": summary["messages_per_second"],
        "subprocess_wall_seconds": round(wall_seconds, 2),
        "every_key_exactly_once": exactly_once,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--db", default=postgres_base_url(), help="PostgreSQL URL (a schema is made)")
    args = parser.parse_args()
    print("command:", " ".join(["bench/dispatch.py", *sys.argv[1:]]))
    for workers in args.workers:
        print(json.dumps(run_once(args.db, args.messages, workers, args.batch_size)), flush=True)


if __name__ == "__main__":
    main()

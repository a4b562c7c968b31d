"""kill -9 during `overdue dispatch` on PostgreSQL, then restart: every message arrives, any resend
carries the same idempotency key (so counted by key each arrives exactly once), resends are reported.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from contact_receivers import SmtpReceiver, WebhookReceiver
from contact_rows import outbox_rows
from sqlalchemy import Engine, func, select

from overdue.contact.outbox import OUTBOX, enqueue, status_counts
from overdue.store.db import session_scope

SECRET = "crash-secret"
MESSAGES = 300
LEASE_SECONDS = 3.0
RECEIVER_DELAY_SECONDS = 0.02


def _config(path: Path, smtp: SmtpReceiver, hook: WebhookReceiver) -> Path:
    path.write_text(
        f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nfrom = "crash@test"\n'
        f'[webhook.sms]\nurl = "{hook.url("sms")}"\nsecret = "{SECRET}"\n'
        f'[webhook.push]\nurl = "{hook.url("push")}"\nsecret = "{SECRET}"\n',
        encoding="utf-8",
    )
    return path


def _start(url: str, config: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "overdue", "dispatch", "--db", url, "--config", str(config),
               "--once", "--batch-size", "10", "--lease-seconds", str(LEASE_SECONDS)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _arrived(smtp: SmtpReceiver, hook: WebhookReceiver) -> int:
    return smtp.arrivals.total() + hook.arrivals.total()


def _sending(engine: Engine) -> int:
    with engine.connect() as connection:
        query = select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status == "sending")
        return int(connection.execute(query).scalar_one())


@pytest.mark.slow
def test_kill_9_then_restart_delivers_each_key_exactly_once(
    pg_engine: Engine, contact_pg_url: str, tmp_path: Path
) -> None:
    due = datetime.now(UTC) - timedelta(minutes=1)
    rows = outbox_rows(MESSAGES, channels=("email", "sms", "push"), at=due)
    with session_scope(pg_engine) as session:
        assert enqueue(session, rows, now=due) == (MESSAGES, 0)
    keys = {row["idempotency_key"] for row in rows}
    with SmtpReceiver(RECEIVER_DELAY_SECONDS) as smtp, \
            WebhookReceiver(SECRET, RECEIVER_DELAY_SECONDS) as hook:
        config = _config(tmp_path / "channels.toml", smtp, hook)
        first = _start(contact_pg_url, config)
        deadline = time.monotonic() + 60
        while _arrived(smtp, hook) < MESSAGES // 4 and time.monotonic() < deadline:
            assert first.poll() is None, first.communicate()
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        before_restart = _arrived(smtp, hook)
        assert MESSAGES // 4 <= before_restart < MESSAGES, "kill landed too late: slow the receiver"
        in_flight = _sending(pg_engine)
        time.sleep(LEASE_SECONDS + 0.5)
        second = _start(contact_pg_url, config)
        out, err = second.communicate(timeout=180)
        assert second.returncode == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        counts = smtp.arrivals.counts() + hook.arrivals.counts()
    assert set(counts) == keys  # every message arrived, under its own key
    duplicates = sum(n - 1 for n in counts.values())
    print(f"\nkilled after {before_restart} of {MESSAGES} arrivals; {in_flight} rows left "
          f"'sending'; restart resent {summary['resends']}; duplicate arrivals {duplicates}")
    assert sum(1 for n in counts.values() if n >= 1) == MESSAGES  # exactly once after dedupe by key
    assert summary["resends"] == in_flight  # rows of the killed batch are sent again, and counted
    assert duplicates <= summary["resends"]
    assert summary["outbox"]["sent"] == MESSAGES and summary["outbox"]["resends"] == in_flight
    assert status_counts(pg_engine)["sending"] == 0
    resent = [doc for key, doc in hook.arrivals.log if counts[key] > 1]
    assert all(doc["attempt"] in (1, 2) for doc in resent)


@pytest.mark.slow
def test_two_dispatcher_processes_share_the_outbox_without_sending_a_row_twice(
    pg_engine: Engine, contact_pg_url: str, tmp_path: Path
) -> None:
    due = datetime.now(UTC) - timedelta(minutes=1)
    rows = outbox_rows(200, channels=("email", "sms", "push"), at=due)
    with session_scope(pg_engine) as session:
        enqueue(session, rows, now=due)
    with SmtpReceiver(0.01) as smtp, WebhookReceiver(SECRET, 0.01) as hook:
        config = _config(tmp_path / "channels.toml", smtp, hook)
        processes = [_start(contact_pg_url, config) for _ in range(2)]
        outputs = [p.communicate(timeout=180) for p in processes]
        counts = smtp.arrivals.counts() + hook.arrivals.counts()
    assert all(p.returncode == 0 for p in processes), outputs
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(s["sent"] for s in summaries) == 200 and all(s["resends"] == 0 for s in summaries)
    assert all(s["sent"] > 0 for s in summaries)  # both took part
    assert counts == {row["idempotency_key"]: 1 for row in rows}


@pytest.mark.slow
def test_sigterm_stops_gracefully_leaving_nothing_in_sending(
    pg_engine: Engine, contact_pg_url: str, tmp_path: Path
) -> None:
    due = datetime.now(UTC) - timedelta(minutes=1)
    rows = outbox_rows(300, channels=("email", "sms", "push"), at=due)
    with session_scope(pg_engine) as session:
        enqueue(session, rows, now=due)
    with SmtpReceiver(RECEIVER_DELAY_SECONDS) as smtp, \
            WebhookReceiver(SECRET, RECEIVER_DELAY_SECONDS) as hook:
        config = _config(tmp_path / "channels.toml", smtp, hook)
        command = [sys.executable, "-m", "overdue", "dispatch", "--db", contact_pg_url,
                   "--config", str(config), "--batch-size", "100", "--max-seconds", "120"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        deadline = time.monotonic() + 60
        while _arrived(smtp, hook) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        arrived = smtp.arrivals.counts() + hook.arrivals.counts()
    assert process.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    counts = summary["outbox"]
    assert counts["sending"] == 0 and counts["sent"] == summary["sent"] < 300
    assert summary["handed_back"] > 0 and counts["queued"] == 300 - summary["sent"]
    assert sum(arrived.values()) == summary["sent"] and set(arrived.values()) == {1}

"""`overdue dispatch` on a SQLite store with adapters from a TOML file or the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from contact_receivers import SmtpReceiver, WebhookReceiver
from contact_rows import T0, outbox_rows
from typer.testing import CliRunner

from overdue.cli import app
from overdue.contact.adapters.config import ChannelConfigError, load_channel_config
from overdue.contact.outbox import enqueue
from overdue.errors import BadInput
from overdue.store import migrate
from overdue.store.db import make_engine, session_scope
from overdue.store.testing import sqlite_url

SECRET = "cli-secret"


def _store(tmp_path: Path, count: int) -> tuple[str, list[dict]]:
    url = sqlite_url(tmp_path, "cli.db")
    migrate.upgrade(url)
    rows = outbox_rows(count, channels=("email", "sms", "letter"))
    engine = make_engine(url)
    with session_scope(engine) as session:
        enqueue(session, rows, now=T0)
    engine.dispose()
    return url, rows


def test_dispatch_command_sends_through_file_and_env_configured_adapters(tmp_path: Path) -> None:
    url, _ = _store(tmp_path, 30)
    config = tmp_path / "channels.toml"
    with SmtpReceiver() as smtp, WebhookReceiver(SECRET) as hook:
        config.write_text(
            f'[smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\n'
            f'[webhook.sms]\nurl = "{hook.url("sms")}"\nsecret_env = "TEST_SMS_SECRET"\n'
            '[dispatch]\nbatch_size = 7\n', encoding="utf-8")
        env = {"TEST_SMS_SECRET": SECRET, "OVERDUE_FILES_DIR": str(tmp_path / "files")}
        result = CliRunner().invoke(app, ["dispatch", "--db", url, "--config", str(config),
                                          "--workers", "2", "--once"], env=env)
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output.strip().splitlines()[-1])
        arrivals = smtp.arrivals.counts() + hook.arrivals.counts()
    assert summary["sent"] == 30 and summary["outbox"]["sent"] == 30 and summary["resends"] == 0
    assert summary["sent_by_channel"] == {"email": 10, "letter": 10, "sms": 10}
    assert len(arrivals) == 20 and set(arrivals.values()) == {1}
    assert len(list((tmp_path / "files" / "letter").glob("*.json"))) == 10


def test_dispatch_command_refuses_a_bad_config(tmp_path: Path) -> None:
    url, _ = _store(tmp_path, 1)
    config = tmp_path / "bad.toml"
    config.write_text('[webhook.fax]\nurl = "http://x"\nsecret = "s"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["dispatch", "--db", url, "--config", str(config), "--once"])
    assert isinstance(result.exception, BadInput) and "webhook.fax" in str(result.exception)


@pytest.mark.parametrize(("text", "message"), [
    ('[smtp]\nport = 0\n', "port"),
    ('[smtp]\nhots = "x"\n', "unknown key"),
    ('[webhook.sms]\nurl = "ftp://x"\nsecret = "s"\n', "http"),
    ('[webhook.sms]\nurl = "http://x"\n', "secret"),
    ('[webhook.sms]\nurl = "http://x"\nsecret_env = "NOPE_NOT_SET"\n', "NOPE_NOT_SET"),
    ('[dispatch]\nbatch = 5\n', "unknown key"),
    ('[smtp\n', "bad.toml"),
    ('[files]\ndir = "x"\nchannels = ["sms"]\n', "capture"),
])
def test_channel_config_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ChannelConfigError, match=message):
        load_channel_config(path, env={})


def test_environment_alone_configures_channels() -> None:
    env = {"OVERDUE_SMTP_HOST": "mail.local", "OVERDUE_SMTP_PORT": "2525",
           "OVERDUE_WEBHOOK_PUSH_URL": "http://push.local/x", "OVERDUE_WEBHOOK_PUSH_SECRET": "p"}
    config = load_channel_config(None, env=env)
    assert config.smtp is not None and (config.smtp.host, config.smtp.port) == ("mail.local", 2525)
    assert config.channels == ["email", "push"]


def test_inbound_command_loads_replies_and_payments_once(tmp_path: Path) -> None:
    url, rows = _store(tmp_path, 3)
    replies = tmp_path / "replies.jsonl"
    replies.write_text(
        json.dumps({"reply_id": "r1", "channel": "sms", "from_address": rows[1]["to_address"],
                    "text": "退订"}, ensure_ascii=False) + "\n\n"
        + json.dumps({"reply_id": "r2", "channel": "sms", "from_address": "x", "text": "ok"})
        + "\n", encoding="utf-8")
    payments = tmp_path / "payments.csv"
    payments.write_text("payment_id,account_id,amount_fen,value_date\nP1,A1,500,2026-11-28\n",
                        encoding="utf-8")
    runner = CliRunner()
    first = runner.invoke(app, ["inbound", str(replies), "--kind", "reply", "--db", url])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert (summary["inserted"], summary["opt_outs"]) == (2, 1)
    assert summary["unapplied_opt_outs"] == [rows[1]["to_address"]]  # customer not in the store
    again = json.loads(runner.invoke(app, ["inbound", str(replies), "--kind", "reply",
                                           "--db", url]).output)
    assert (again["inserted"], again["duplicates"]) == (0, 2)
    paid = json.loads(runner.invoke(app, ["inbound", str(payments), "--kind", "payment",
                                          "--db", url]).output)
    assert (paid["inserted"], paid["payments_recorded"]) == (1, 1)


@pytest.mark.parametrize(("content", "kind", "message"), [
    ("{not json}\n", "reply", "line 1: not JSON"),
    ('{"reply_id": "r", "channel": "fax", "from_address": "a", "text": "STOP"}\n', "reply",
     "reply event 0: channel"),
    ('{"payment_id": "p"}\n', "refund", "--kind"),
])
def test_inbound_command_bad_input(tmp_path: Path, content: str, kind: str, message: str) -> None:
    url, _ = _store(tmp_path, 1)
    path = tmp_path / "events.jsonl"
    path.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(app, ["inbound", str(path), "--kind", kind, "--db", url])
    assert isinstance(result.exception, BadInput) and message in str(result.exception)


def test_agency_results_command_writes_the_quarantine_report(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "account_id,customer_id,channel,to_address,attempted_at,time_zone,connected\n"
        "A1,C1,voice_agent,138,2026-11-28T09:00:00+08:00,Asia/Shanghai,1\n"
        "A1,C1,voice_agent,138,2026-11-28T09:00:00,Asia/Shanghai,1\n", encoding="utf-8")
    errors, out = tmp_path / "rejected.csv", tmp_path / "contacts.parquet"
    result = CliRunner().invoke(app, ["agency-results", str(contacts), "--agency", "acme",
                                      "--errors", str(errors), "--contacts-out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["contacts"], summary["rejected_rows"]) == (1, 1)
    assert "contacts.csv,3,attempted_at" in errors.read_text("utf-8-sig")
    assert out.is_file()


def test_capture_mode_writes_every_message_to_files_and_sends_nothing(tmp_path: Path) -> None:
    url, rows = _store(tmp_path, 9)
    out = tmp_path / "captured"
    result = CliRunner().invoke(app, ["dispatch", "--db", url, "--capture", str(out), "--once"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["sent"] == 9 and summary["channels"][:3] == ["push", "sms", "email"]
    written = sorted(p.stem for p in out.glob("*/*.json"))
    assert written == sorted(row["idempotency_key"] for row in rows)
    email = json.loads(next((out / "email").glob("*.json")).read_text("utf-8"))
    assert email["subject"].startswith("还款提醒")


def test_an_unmigrated_store_is_a_one_line_error(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "empty.db")
    result = CliRunner().invoke(app, ["dispatch", "--db", url, "--capture", str(tmp_path / "c"),
                                      "--once"])
    assert isinstance(result.exception, BadInput) and "overdue db upgrade" in str(result.exception)

"""The daily run: steps in order, files per date, idempotent reruns, the outbox in a store."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from overdue.cli import app
from overdue.strategy.run_day import run_day
from overdue.strategy.sim_book import make_base_book

DAY = date(2024, 7, 1)


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runday")
    start, path = make_base_book(600, 3, seed=5, out=root / "book")
    assert start == DAY
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.parquet"))
        if "accounts" not in p.parts and "transitions" not in p.parts
    }


def test_steps_files_and_idempotent_rerun(book: Path, tmp_path: Path) -> None:
    snaps = tmp_path / "snaps"
    first = run_day(book, DAY, snapshots=snaps, strategy="default", profile="cn", render=False)
    assert [s.name for s in first.steps] == ["eod", "scoring", "decisions", "gate", "outbox"]
    assert first.steps[0].rows > 0 and all(s.seconds >= 0 for s in first.steps)
    folder = snaps / f"as_of={DAY.isoformat()}"
    decisions = pq.read_table(folder / "decisions" / "part-0.parquet")
    contacts = pq.read_table(folder / "contacts" / "part-0.parquet")
    outbox = pq.read_table(snaps / "outbox" / f"as_of={DAY.isoformat()}.parquet")
    assert decisions.num_rows >= first.steps[0].rows  # every account has a decision
    assert {"allowed", "blocked_rule", "contact_id", "planned_at_utc"} <= set(contacts.column_names)
    allowed = contacts.filter(contacts["allowed"])
    assert outbox.num_rows == allowed.num_rows
    assert set(outbox["idempotency_key"].to_pylist()) == set(allowed["contact_id"].to_pylist())
    before = _digest(snaps)
    again = run_day(book, DAY, snapshots=snaps, strategy="default", profile="cn", render=False)
    assert _digest(snaps) == before, "a rerun writes identical files"
    assert again.blocked_by_rule == first.blocked_by_rule


def test_outbox_in_a_store_has_no_duplicates_on_rerun(book: Path, tmp_path: Path) -> None:
    from overdue.store.db import make_engine
    from overdue.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    snaps = tmp_path / "snaps"
    day = DAY + timedelta(days=1)
    run_day(book, DAY, snapshots=snaps, strategy="default", profile="cn", render=False)
    first = run_day(
        book, day, snapshots=snaps, strategy="default", profile="cn", store_url=url, render=False
    )
    second = run_day(
        book, day, snapshots=snaps, strategy="default", profile="cn", store_url=url, render=False
    )
    outbox_first = next(s for s in first.steps if s.name == "outbox")
    outbox_second = next(s for s in second.steps if s.name == "outbox")
    assert outbox_second.rows == 0
    assert outbox_second.detail["duplicates"] == outbox_first.rows
    with make_engine(url).connect() as conn:
        total = conn.execute(text("select count(*) from outbox")).scalar_one()
        distinct = conn.execute(
            text("select count(distinct idempotency_key) from outbox")
        ).scalar_one()
    assert total == distinct == outbox_first.rows


def test_cli_reports_each_step(book: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "run-day",
            str(book),
            "--as-of",
            DAY.isoformat(),
            "--snapshots",
            str(tmp_path / "s"),
            "--profile",
            "us",
        ],
    )
    assert result.exit_code == 0, result.output
    for step in ("eod", "scoring", "decisions", "gate", "outbox"):
        assert step in result.output
    bad = CliRunner().invoke(app, ["run-day", str(book), "--as-of", "2024-13-01"])
    assert bad.exit_code == 2


def test_cli_puts_each_debtors_self_service_link_in_their_emails_and_texts(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from overdue.cases.self_service_links import read_token

    monkeypatch.setenv("OVERDUE_LINK_SECRET", "run-day-links")
    snaps, day = tmp_path / "s", DAY + timedelta(days=2)  # the book's first e-mails go out then
    args = ["run-day", str(book), "--as-of", day.isoformat(), "--snapshots", str(snaps)]
    result = CliRunner().invoke(app, [*args, "--links-base-url", "https://pay.example.com"])
    assert result.exit_code == 0, result.output
    outbox = pq.read_table(snaps / "outbox" / f"as_of={day.isoformat()}.parquet").to_pylist()
    linked = [row for row in outbox if row["channel"] in ("email", "sms")
              and json.loads(row["payload"])["recipient_kind"] != "third_party"]  # fmt: skip
    others = [row for row in outbox if row not in linked]
    assert {row["channel"] for row in linked} == {"email", "sms"} and others
    for row in linked:
        token = row["body"].split("https://pay.example.com/self/")[1].split()[0]
        link = read_token("run-day-links", token, as_of=day)
        assert link.customer_id == row["customer_id"]
    assert not any("/self/" in (row["body"] or "") for row in others)
    bad = CliRunner().invoke(app, [*args, "--links-base-url", "pay.example.com"])
    assert bad.exit_code != 0 and "--links-base-url" in bad.output

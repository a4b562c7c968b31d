"""The daily run's gate counts the calls people logged in the store: a collector who reached a
debtor three times today uses up the cn profile's daily cap of connected calls, so the strategy's
calls to that debtor today are blocked (``daily_connected_cap``) when the run is given the store."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from overdue.portfolio.eod import snapshot_path
from overdue.store.db import make_engine, session_scope
from overdue.store.migrate import upgrade
from overdue.store.tables import ContactAttempt, Customer
from overdue.strategy.run_day import run_day
from overdue.strategy.sim_book import make_base_book

DAY = date(2024, 7, 1)
CALLS = ("voice_agent", "voice_robot")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    start, path = make_base_book(600, 3, seed=23, out=tmp_path_factory.mktemp("people") / "book")
    assert start == DAY
    return path


def _allowed_calls(snaps: Path, day: date) -> dict[str, list[str]]:
    contacts = pq.read_table(snapshot_path(snaps, day) / "contacts")
    calls = contacts.filter(pc.is_in(contacts["channel"], value_set=pc.cast(CALLS, "string")))
    out: dict[str, list[str]] = {}
    for row in calls.select(["customer_id", "allowed", "blocked_rule"]).to_pylist():
        out.setdefault(row["customer_id"], []).append("" if row["allowed"] else row["blocked_rule"])
    return out


def test_calls_logged_by_people_count_toward_the_daily_cap(book: Path, tmp_path: Path) -> None:
    day = DAY + timedelta(days=1)
    plain = tmp_path / "plain"
    run_day(book, DAY, snapshots=plain, strategy="aggressive", profile="cn", render=False)
    run_day(book, day, snapshots=plain, strategy="aggressive", profile="cn", render=False)
    before = _allowed_calls(plain, day)
    called = sorted(c for c, rules in before.items() if "" in rules)
    assert called, "the aggressive strategy calls someone on its second day"
    customer_id = called[0]

    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    zones = pq.read_table(book / "customers.parquet", columns=["customer_id", "time_zone"])
    zone = dict(zip(zones["customer_id"].to_pylist(), zones["time_zone"].to_pylist(), strict=True))
    engine = make_engine(url)
    with session_scope(engine) as session:  # a collector reached the debtor 3 times this morning
        session.add(Customer(customer_id=customer_id, time_zone=zone[customer_id]))
        session.flush()
        local_morning = datetime.combine(day, time(9), ZoneInfo(zone[customer_id]))
        for i in range(3):
            session.add(
                ContactAttempt(
                    customer_id=customer_id,
                    channel="voice_agent",
                    to_address="13800000000",
                    attempted_at=(local_morning + timedelta(minutes=10 * i)).astimezone(UTC),
                    time_zone=zone[customer_id],
                    connected=True,
                    right_party=True,
                    conversation=True,
                    outcome="no_answer",
                )
            )
    engine.dispose()

    with_store = tmp_path / "with_store"
    run_day(book, DAY, snapshots=with_store, strategy="aggressive", profile="cn", render=False)
    report = run_day(
        book, day, snapshots=with_store, strategy="aggressive", profile="cn", render=False,
        store_url=url,
    )  # fmt: skip
    gate = next(s for s in report.steps if s.name == "gate")
    assert gate.detail["people_attempts"] == 3
    after = _allowed_calls(with_store, day)
    mine_before, mine_after = before[customer_id], after[customer_id]
    assert len(mine_after) == len(mine_before)
    for was, now in zip(mine_before, mine_after, strict=True):  # same planned calls, same order
        assert now == ("daily_connected_cap" if was == "" else was)
    others = {c: r for c, r in after.items() if c != customer_id}
    assert others == {c: r for c, r in before.items() if c != customer_id}  # nobody else changed

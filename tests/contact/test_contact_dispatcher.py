"""Outbox and dispatcher on SQLite and PostgreSQL, with real local SMTP and webhook receivers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from contact_receivers import SmtpReceiver, WebhookReceiver
from contact_rows import T0, outbox_rows
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import OperationalError

from overdue.contact.adapters.base import Adapter
from overdue.contact.adapters.smtp import SmtpAdapter, SmtpConfig
from overdue.contact.adapters.webhook import WebhookAdapter, WebhookEndpoint
from overdue.contact.dispatcher import (
    MAX_DATABASE_RETRIES,
    DispatchSettings,
    Worker,
    backoff_delay_seconds,
    claim,
    dispatch,
    dispatch_parallel,
)
from overdue.contact.outbox import OUTBOX, OutboxRowError, enqueue, status_counts
from overdue.store.db import make_engine, session_scope

SECRET = "test-secret"


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def receivers() -> Iterator[tuple[SmtpReceiver, WebhookReceiver]]:
    with SmtpReceiver() as smtp, WebhookReceiver(SECRET) as hook:
        yield smtp, hook


def make_adapters(smtp: SmtpReceiver, hook: WebhookReceiver) -> dict[str, Adapter]:
    email = SmtpAdapter(SmtpConfig(host=smtp.host, port=smtp.port, timeout_seconds=5))
    web = WebhookAdapter({c: WebhookEndpoint(hook.url(c), SECRET, 5) for c in ("sms", "push")})
    return {"email": email, "sms": web, "push": web}


def _enqueue(engine: Engine, rows: list[dict[str, Any]]) -> tuple[int, int]:
    with session_scope(engine) as session:
        return enqueue(session, rows, now=T0)


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(OUTBOX).order_by(OUTBOX.c.id)).all())


def test_enqueue_twice_is_a_no_op(store_engine: Engine) -> None:
    rows = outbox_rows(1_234)
    assert _enqueue(store_engine, rows) == (1_234, 0)
    assert _enqueue(store_engine, rows[:700] + rows[:5]) == (0, 705)
    assert status_counts(store_engine)["queued"] == 1_234


def test_enqueue_refuses_bad_rows_naming_the_field(store_engine: Engine) -> None:
    bad = outbox_rows(3)
    bad[2]["channel"] = "pigeon"
    with pytest.raises(OutboxRowError, match="row 2: channel"):
        _enqueue(store_engine, bad)
    bad = outbox_rows(2)
    bad[1]["body"] = " "
    with pytest.raises(OutboxRowError, match="row 1: body"):
        _enqueue(store_engine, bad)
    assert status_counts(store_engine)["queued"] == 0


def test_dispatch_sends_every_row_once(
    store_engine: Engine, receivers: tuple[SmtpReceiver, WebhookReceiver]
) -> None:
    smtp, hook = receivers
    rows = outbox_rows(60)
    _enqueue(store_engine, rows)
    settings = DispatchSettings(batch_size=25, once=True)
    summary = dispatch(store_engine, make_adapters(smtp, hook), worker_id="w1", settings=settings,
                       now_fn=Clock())
    assert (summary.sent, summary.failed, summary.dead, summary.resends) == (60, 0, 0, 0)
    assert summary.sent_by_channel == {"email": 20, "sms": 20, "push": 20}
    arrivals = smtp.arrivals.counts() + hook.arrivals.counts()
    assert arrivals == {row["idempotency_key"]: 1 for row in rows}
    assert all(r.status == "sent" and r.attempts == 1 and r.sent_at == T0 for r in _rows(store_engine))
    again = dispatch(store_engine, make_adapters(smtp, hook), worker_id="w1", settings=settings,
                     now_fn=Clock())
    assert again.claimed == 0


def test_backoff_then_success_and_dead_letters(store_engine: Engine) -> None:
    rows = outbox_rows(3, channels=("sms",))
    flaky, refused, down = (r["idempotency_key"] for r in rows)

    def respond(key: str, nth: int) -> int:
        if key == flaky:
            return 503 if nth <= 2 else 200
        return 400 if key == refused else 503

    clock = Clock()
    settings = DispatchSettings(batch_size=10, max_attempts=4, backoff_base_seconds=10,
                                backoff_cap_seconds=25, once=True)
    _enqueue(store_engine, rows)
    with WebhookReceiver(SECRET, respond=respond) as hook:
        adapters: dict[str, Adapter] = {"sms": WebhookAdapter({"sms": WebhookEndpoint(hook.url("sms"), SECRET)})}
        first = dispatch(store_engine, adapters, worker_id="w", settings=settings, now_fn=clock)
        assert (first.sent, first.failed, first.dead) == (0, 2, 1)
        by_key = {r.idempotency_key: r for r in _rows(store_engine)}
        assert by_key[refused].status == "dead" and "HTTP 400" in by_key[refused].last_error
        assert by_key[flaky].next_attempt_at == T0 + timedelta(seconds=10)
        early = dispatch(store_engine, adapters, worker_id="w", settings=settings, now_fn=clock)
        assert early.claimed == 0  # not due before its backoff
        for delay in (10, 20, 25):
            clock.advance(delay)
            dispatch(store_engine, adapters, worker_id="w", settings=settings, now_fn=clock)
    by_key = {r.idempotency_key: r for r in _rows(store_engine)}
    assert (by_key[flaky].status, by_key[flaky].attempts) == ("sent", 3)
    assert (by_key[down].status, by_key[down].attempts) == ("dead", 4)
    assert hook.arrivals.counts() == {flaky: 3, refused: 1, down: 4}
    assert status_counts(store_engine) == {"queued": 0, "sending": 0, "sent": 1, "failed": 0,
                                                "dead": 2, "resends": 2}


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff_delay_seconds(a, 30, 600) for a in (1, 2, 3, 4, 5, 6)] == [
        30, 60, 120, 240, 480, 600]
    assert backoff_delay_seconds(500, 1, 3600) == 3600


def test_a_dead_workers_rows_come_back_after_the_lease(
    store_engine: Engine, receivers: tuple[SmtpReceiver, WebhookReceiver]
) -> None:
    smtp, hook = receivers
    _enqueue(store_engine, outbox_rows(10))
    clock = Clock()
    ghost = claim(store_engine, "ghost", ["email", "push", "sms"], 6, clock(), 60)
    assert len(ghost) == 6
    settings = DispatchSettings(batch_size=50, lease_seconds=60, once=True)
    live = dispatch(store_engine, make_adapters(smtp, hook), worker_id="w", settings=settings,
                    now_fn=clock)
    assert (live.sent, live.resends) == (4, 0)  # the ghost's rows are still leased
    clock.advance(61)
    later = dispatch(store_engine, make_adapters(smtp, hook), worker_id="w", settings=settings,
                     now_fn=clock)
    assert (later.sent, later.resends) == (6, 6)
    assert {r.attempts for r in _rows(store_engine) if r.idempotency_key in
            {g.idempotency_key for g in ghost}} == {2}


def _short_lock_timeout(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '2s'")
    dbapi_connection.commit()


def test_skip_locked_claims_around_rows_another_worker_holds(pg_engine: Engine) -> None:
    _enqueue(pg_engine, outbox_rows(20))
    holder = pg_engine.connect()
    try:
        transaction = holder.begin()
        held = holder.execute(text(
            "SELECT id FROM outbox ORDER BY id LIMIT 8 FOR UPDATE")).scalars().all()
        impatient = make_engine(pg_engine.url.render_as_string(hide_password=False))
        event.listen(impatient, "connect", _short_lock_timeout)
        try:  # without SKIP LOCKED this claim would wait for the holder and time out
            rows = claim(impatient, "w2", ["email", "push", "sms"], 100, T0, 60)
        finally:
            impatient.dispose()
        assert len(rows) == 12 and not {r.id for r in rows} & set(held)
        transaction.rollback()
    finally:
        holder.close()


def test_two_workers_never_send_a_row_twice(
    store_engine: Engine, receivers: tuple[SmtpReceiver, WebhookReceiver]
) -> None:
    smtp, hook = receivers
    rows = outbox_rows(300)
    _enqueue(store_engine, rows)
    settings = DispatchSettings(batch_size=20, once=True)
    summary = dispatch_parallel(store_engine, lambda: make_adapters(smtp, hook), workers=2,
                                worker_prefix="t", settings=settings, now_fn=Clock())
    assert summary.sent == 300 and summary.resends == 0
    arrivals = smtp.arrivals.counts() + hook.arrivals.counts()
    assert arrivals == {row["idempotency_key"]: 1 for row in rows}
    by_worker = {r.locked_by for r in _rows(store_engine)}
    assert by_worker <= {"t:0", "t:1"}


def test_settings_are_bounded() -> None:
    for bad in ({"batch_size": 0}, {"batch_size": 10_001}, {"max_attempts": 0},
                {"backoff_base_seconds": 100, "backoff_cap_seconds": 10}, {"lease_seconds": 1}):
        with pytest.raises(ValueError):
            DispatchSettings(**bad)  # type: ignore[arg-type]


def test_a_worker_hands_back_what_it_cannot_send_within_its_lease(
    store_engine: Engine, receivers: tuple[SmtpReceiver, WebhookReceiver]
) -> None:
    smtp, hook = receivers
    _enqueue(store_engine, outbox_rows(8))
    ticks = iter(range(0, 10_000))

    def slow_monotonic() -> float:  # every look at the clock costs a second
        return float(next(ticks))

    settings = DispatchSettings(batch_size=8, lease_seconds=12, once=True)
    assert settings.send_budget == 3.0
    worker = Worker(store_engine, make_adapters(smtp, hook), "w", settings, Clock(), slow_monotonic)
    assert worker.run_batch() == 8
    summary = worker.summary
    assert summary.handed_back > 0 and summary.sent + summary.handed_back == 8
    rows = _rows(store_engine)
    back = [r for r in rows if r.status == "queued"]
    assert len(back) == summary.handed_back
    assert all(r.attempts == 0 and r.locked_by is None for r in back)
    assert smtp.arrivals.total() + hook.arrivals.total() == summary.sent


def test_a_worker_waits_out_a_few_database_failures_then_gives_up(store_engine: Engine) -> None:
    class Flaky(Worker):
        failures = 0

        def run_batch(self) -> int:
            if self.failures < self.limit:
                self.failures += 1
                raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
            return super().run_batch()

    settings = DispatchSettings(once=True, idle_sleep_seconds=0.001)
    recovering = Flaky(store_engine, {}, "w", settings)
    recovering.limit = MAX_DATABASE_RETRIES
    assert recovering.run().claimed == 0 and recovering.failures == MAX_DATABASE_RETRIES
    hopeless = Flaky(store_engine, {}, "w", settings)
    hopeless.limit = MAX_DATABASE_RETRIES + 1
    with pytest.raises(OperationalError):
        hopeless.run()


def test_one_failing_worker_stops_the_others(store_engine: Engine) -> None:
    made: list[int] = []

    def factory() -> dict[str, Adapter]:
        made.append(1)
        if len(made) == 2:
            raise RuntimeError("no adapter for you")
        return {}

    polling = DispatchSettings(idle_sleep_seconds=0.05)  # not --once: would poll for ever
    with pytest.raises(RuntimeError, match="no adapter"):
        dispatch_parallel(store_engine, factory, workers=2, worker_prefix="f", settings=polling)

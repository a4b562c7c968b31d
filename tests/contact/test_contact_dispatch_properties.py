"""Property: whatever a provider answers, every outbox row ends sent or dead, never beyond the
attempt limit, and the receiver saw each key exactly ``attempts`` times."""

from __future__ import annotations

from datetime import timedelta

from contact_receivers import WebhookReceiver
from contact_rows import T0, outbox_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from overdue.contact.adapters.base import Adapter
from overdue.contact.adapters.webhook import WebhookAdapter, WebhookEndpoint
from overdue.contact.dispatcher import DispatchSettings, dispatch
from overdue.contact.outbox import OUTBOX, enqueue
from overdue.store.db import make_engine, session_scope
from overdue.store.tables import Base

SECRET = "prop"
ANSWERS = st.sampled_from([200, 201, 202, 400, 404, 422, 429, 500, 502, 503])
RETRYABLE = {429, 500, 502, 503}
MAX_ATTEMPTS = 4


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts=st.lists(st.lists(ANSWERS, min_size=1, max_size=6), min_size=1, max_size=6),
       batch_size=st.integers(1, 4))
def test_every_row_ends_sent_or_dead_within_the_limit(scripts: list[list[int]], batch_size: int) -> None:
    rows = outbox_rows(len(scripts), channels=("sms",))
    script = {row["idempotency_key"]: answers for row, answers in zip(rows, scripts, strict=True)}

    def respond(key: str, nth: int) -> int:
        answers = script[key]
        return answers[min(nth, len(answers)) - 1]

    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[OUTBOX])
    with session_scope(engine) as session:
        enqueue(session, rows, now=T0)
    clock = [T0]
    config = DispatchSettings(batch_size=batch_size, max_attempts=MAX_ATTEMPTS, once=True,
                              backoff_base_seconds=1, backoff_cap_seconds=4)
    with WebhookReceiver(SECRET, respond=respond) as hook:
        adapters: dict[str, Adapter] = {
            "sms": WebhookAdapter({"sms": WebhookEndpoint(hook.url("sms"), SECRET)})}
        for _ in range(MAX_ATTEMPTS * 2):
            dispatch(engine, adapters, worker_id="p", settings=config, now_fn=lambda: clock[0])
            clock[0] += timedelta(seconds=5)
        adapters["sms"].close()
    with engine.connect() as connection:
        stored = connection.execute(select(OUTBOX)).all()
    engine.dispose()
    arrivals = hook.arrivals.counts()
    for row in stored:
        answers = [respond(row.idempotency_key, n) for n in range(1, row.attempts + 1)]
        assert row.status in ("sent", "dead"), row
        assert 1 <= row.attempts <= MAX_ATTEMPTS
        assert arrivals[row.idempotency_key] == row.attempts
        assert all(a in RETRYABLE for a in answers[:-1])  # only retryable answers were retried
        if row.status == "sent":
            assert 200 <= answers[-1] < 300
        else:
            assert answers[-1] not in range(200, 300)
            assert answers[-1] not in RETRYABLE or row.attempts == MAX_ATTEMPTS

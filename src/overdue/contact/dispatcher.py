"""The dispatcher: claims due outbox rows, sends them through the channel adapters, records results.

Claiming on PostgreSQL is one short transaction: ``SELECT id … ORDER BY next_attempt_at LIMIT n
FOR UPDATE SKIP LOCKED`` then ``UPDATE outbox SET status='sending', locked_by=…,
attempts=attempts+1 WHERE id IN (…) RETURNING …``: SKIP LOCKED lets several workers claim
disjoint rows without waiting on each other. On SQLite (no row locks) the claim is one conditional
``UPDATE … WHERE id IN (SELECT … LIMIT n) AND <still due>``, run under the database's single
writer lock, so a row can be claimed by one worker only. Due rows are ``queued``/``failed`` rows whose
``next_attempt_at`` has come, plus ``sending`` rows whose lease (``locked_at`` + ``lease_seconds``)
ran out — that is how the rows of a killed worker come back. A worker starts no send when less
than ``send_budget`` (default min(30 s, lease / 4); keep adapter time-outs below it) is left of its
lease (it hands the rest of the batch back), so two workers never send the same row at the same
time. A row sent twice (a crash between the send and the ``sent`` mark) keeps its
idempotency key, so the receiver can drop the copy; ``attempts`` counts it and the summary reports
it as a resend.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from overdue.contact.adapters.base import Adapter, Message, SendError
from overdue.contact.outbox import OUTBOX

MAX_BATCH_SIZE = 1_000
MAX_ATTEMPTS_LIMIT = 20
MAX_ERROR_CHARS = 1_000
MAX_WORKERS = 32
LEASE_SAFETY_SECONDS = 1.0
MAX_SEND_BUDGET_SECONDS = 30.0
MAX_DATABASE_RETRIES = 5
MAX_DATABASE_WAIT_SECONDS = 30.0
MARK_GROUP_ROWS = 20
MARK_GROUP_SECONDS = 0.5

NowFn = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DispatchSettings:
    """Limits of one dispatcher worker (every one bounded)."""

    batch_size: int = 100
    max_attempts: int = 5
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3_600.0
    lease_seconds: float = 300.0
    idle_sleep_seconds: float = 1.0
    once: bool = False
    max_seconds: float | None = None
    send_budget_seconds: float | None = None  # default: min(30 s, lease / 4)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size {self.batch_size} not in 1..{MAX_BATCH_SIZE}")
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS_LIMIT:
            raise ValueError(f"max_attempts {self.max_attempts} not in 1..{MAX_ATTEMPTS_LIMIT}")
        if not 0 < self.backoff_base_seconds <= self.backoff_cap_seconds:
            raise ValueError("backoff: need 0 < backoff_base_seconds <= backoff_cap_seconds")
        if self.lease_seconds <= 2 * LEASE_SAFETY_SECONDS:
            raise ValueError(f"lease_seconds {self.lease_seconds} must exceed 2 s")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError(f"max_seconds {self.max_seconds} must be > 0")
        if self.send_budget_seconds is not None and not (
            0 < self.send_budget_seconds <= self.lease_seconds / 2
        ):
            raise ValueError("send_budget_seconds must be > 0 and at most half the lease")

    @property
    def send_budget(self) -> float:
        """No send starts when less than this is left of the lease (keep adapter timeouts below)."""
        if self.send_budget_seconds is not None:
            return self.send_budget_seconds
        return min(MAX_SEND_BUDGET_SECONDS, self.lease_seconds / 4)


@dataclass
class DispatchSummary:
    """What one or more workers did. ``resends`` = sends of rows already attempted before."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    resends: int = 0
    handed_back: int = 0
    lost_lease: int = 0
    seconds: float = 0.0
    sent_by_channel: Counter[str] = field(default_factory=Counter)

    def merge(self, other: DispatchSummary) -> DispatchSummary:
        return DispatchSummary(
            claimed=self.claimed + other.claimed,
            sent=self.sent + other.sent,
            failed=self.failed + other.failed,
            dead=self.dead + other.dead,
            resends=self.resends + other.resends,
            handed_back=self.handed_back + other.handed_back,
            lost_lease=self.lost_lease + other.lost_lease,
            seconds=max(self.seconds, other.seconds),
            sent_by_channel=self.sent_by_channel + other.sent_by_channel,
        )

    def as_dict(self) -> dict[str, Any]:
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "failed": self.failed,
            "dead": self.dead,
            "resends": self.resends,
            "handed_back": self.handed_back,
            "lost_lease": self.lost_lease,
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(rate, 1),
            "sent_by_channel": dict(sorted(self.sent_by_channel.items())),
        }


def backoff_delay_seconds(attempts: int, base_seconds: float, cap_seconds: float) -> float:
    """Exponential backoff after ``attempts`` failed attempts: base·2^(attempts−1), capped."""
    assert attempts >= 1
    exponent = min(attempts - 1, 30)
    return float(min(cap_seconds, base_seconds * (2**exponent)))


def _due(channels: list[str], now: datetime, lease_seconds: float) -> Any:
    stale_before = now - timedelta(seconds=lease_seconds)
    c = OUTBOX.c
    return and_(
        c.channel.in_(channels),
        or_(
            and_(c.status.in_(("queued", "failed")), c.next_attempt_at <= now),
            and_(c.status == "sending", c.locked_at < stale_before),
        ),
    )


CLAIMED_COLUMNS = (
    "id",
    "idempotency_key",
    "channel",
    "to_address",
    "subject",
    "body",
    "payload",
    "attempts",
)


def claim(
    engine: Engine,
    worker_id: str,
    channels: list[str],
    batch_size: int,
    now: datetime,
    lease_seconds: float,
) -> list[Row[Any]]:
    """Mark up to ``batch_size`` due rows as ``sending`` by ``worker_id`` and return them."""
    assert 1 <= batch_size <= MAX_BATCH_SIZE
    if not channels:
        return []
    due = _due(channels, now, lease_seconds)
    c = OUTBOX.c
    pick = (
        select(c.id)
        .where(due)
        .order_by(c.next_attempt_at, c.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    claimed = {"status": "sending", "locked_at": now, "locked_by": worker_id}
    returning = [c[name] for name in CLAIMED_COLUMNS]
    target: Any
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Lock the picked rows first (SKIP LOCKED), then update exactly those: a LIMIT inside
            # "UPDATE … WHERE id IN (SELECT … LIMIT n)" may be re-evaluated by the planner.
            ids = list(connection.execute(pick).scalars())
            if not ids:
                return []
            target = c.id.in_(ids)
        else:
            # SQLite: one statement under the single writer lock; the sub-select runs once.
            target = and_(c.id.in_(pick.scalar_subquery()), due)
        statement = (
            update(OUTBOX)
            .where(target)
            .values(**claimed, attempts=c.attempts + 1)
            .returning(*returning)
        )
        rows = list(connection.execute(statement).all())
    assert len(rows) <= batch_size
    return sorted(rows, key=lambda row: row.id)


def _mine(row_id: int, worker_id: str) -> Any:
    c = OUTBOX.c
    return and_(c.id == row_id, c.status == "sending", c.locked_by == worker_id)


def _finish(connection: Connection, row_id: int, worker_id: str, values: dict[str, Any]) -> bool:
    done = connection.execute(update(OUTBOX).where(_mine(row_id, worker_id)).values(**values))
    connection.commit()
    return done.rowcount == 1


def _hand_back(engine: Engine, row_ids: list[int], worker_id: str) -> int:
    """Return claimed-but-unsent rows to the queue (their attempt did not happen)."""
    if not row_ids:
        return 0
    c = OUTBOX.c
    statement = (
        update(OUTBOX)
        .where(c.id.in_(row_ids), c.status == "sending", c.locked_by == worker_id)
        .values(status="queued", locked_at=None, locked_by=None, attempts=c.attempts - 1)
    )
    with engine.begin() as connection:
        return int(connection.execute(statement).rowcount)


class Worker:
    """One dispatcher worker: claim a batch, send each row, record the outcome."""

    def __init__(
        self,
        engine: Engine,
        adapters: Mapping[str, Adapter],
        worker_id: str,
        settings: DispatchSettings,
        now_fn: NowFn = utc_now,
        monotonic_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.adapters = dict(adapters)
        self.worker_id = worker_id
        self.settings = settings
        self.now_fn = now_fn
        self.monotonic_fn = monotonic_fn
        self.summary = DispatchSummary()
        self._stop: threading.Event | None = None

    def run_batch(self) -> int:
        """Claim and process one batch; returns the number of rows claimed."""
        s = self.settings
        claimed_at = self.monotonic_fn()
        rows = claim(
            self.engine, self.worker_id, sorted(self.adapters), s.batch_size, self.now_fn(),
            s.lease_seconds,
        )
        self.summary.claimed += len(rows)
        deadline = claimed_at + s.lease_seconds - LEASE_SAFETY_SECONDS - s.send_budget
        sent: list[Row[Any]] = []
        first_unmarked = claimed_at
        with self.engine.connect() as connection:
            for index, row in enumerate(rows):
                if self.monotonic_fn() >= deadline or self._stopping():
                    self._mark_sent(connection, sent)
                    rest = [r.id for r in rows[index:]]
                    self.summary.handed_back += _hand_back(self.engine, rest, self.worker_id)
                    return len(rows)
                if self._process(connection, row):
                    if not sent:
                        first_unmarked = self.monotonic_fn()
                    sent.append(row)
                if len(sent) >= MARK_GROUP_ROWS or (
                    sent and self.monotonic_fn() - first_unmarked >= MARK_GROUP_SECONDS
                ):
                    self._mark_sent(connection, sent)
            self._mark_sent(connection, sent)
        return len(rows)

    def _process(self, connection: Connection, row: Row[Any]) -> bool:
        """Send one row; True when the provider took it (the ``sent`` mark follows in a group)."""
        message = Message(
            idempotency_key=row.idempotency_key,
            channel=row.channel,
            to_address=row.to_address,
            body=row.body,
            subject=row.subject,
            payload=dict(row.payload or {}),
            attempt=int(row.attempts),
        )
        try:
            self.adapters[row.channel].send(message)
        except SendError as exc:
            self._record_failure(connection, row, str(exc), exc.retryable)
            return False
        except Exception as exc:  # an adapter bug must not stop the worker: retry with limits
            self._record_failure(connection, row, f"{type(exc).__name__}: {exc}", True)
            return False
        return True

    def _mark_sent(self, connection: Connection, sent: list[Row[Any]]) -> None:
        """Mark a group of sent rows in one statement (one commit instead of one per message).

        A crash before the mark means these rows are sent again, under the same keys: the price
        of grouping is at most MARK_GROUP_ROWS duplicate deliveries, which receivers drop by key.
        """
        if not sent:
            return
        c = OUTBOX.c
        statement = (
            update(OUTBOX)
            .where(c.id.in_([r.id for r in sent]), c.status == "sending",
                   c.locked_by == self.worker_id)
            .values(status="sent", sent_at=self.now_fn(), locked_at=None, last_error=None)
            .returning(c.id)
        )
        if connection.dialect.name == "postgresql":
            # No WAL flush wait for the mark: only a crash of the database server itself could
            # lose it, and then the rows are sent again under the same idempotency keys.
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        marked = set(connection.execute(statement).scalars())
        connection.commit()
        for row in sent:
            if row.id not in marked:
                self.summary.lost_lease += 1
                continue
            self.summary.sent += 1
            self.summary.sent_by_channel[row.channel] += 1
            self.summary.resends += int(row.attempts > 1)
        sent.clear()

    def _record_failure(self, connection: Connection, row: Row[Any], error: str, retry: bool) -> None:
        s = self.settings
        attempts = int(row.attempts)
        values: dict[str, Any] = {"last_error": error[:MAX_ERROR_CHARS], "locked_at": None}
        if retry and attempts < s.max_attempts:
            delay = backoff_delay_seconds(attempts, s.backoff_base_seconds, s.backoff_cap_seconds)
            values.update(status="failed", next_attempt_at=self.now_fn() + timedelta(seconds=delay))
            counter = "failed"
        else:
            values.update(status="dead")
            counter = "dead"
        if _finish(connection, row.id, self.worker_id, values):
            setattr(self.summary, counter, getattr(self.summary, counter) + 1)
        else:
            self.summary.lost_lease += 1

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def run(self, stop: threading.Event | None = None) -> DispatchSummary:
        """Loop until stopped, out of time, or (``once``) nothing is due.

        When ``stop`` is set the worker finishes the message in hand, marks what it sent and
        hands the rest of its batch back to the queue.
        """
        self._stop = stop
        s = self.settings
        started = self.monotonic_fn()
        database_failures = 0
        while stop is None or not stop.is_set():
            if s.max_seconds is not None and self.monotonic_fn() - started >= s.max_seconds:
                break
            try:
                claimed = self.run_batch()
            except OperationalError:
                # the database went away (restart, network): wait and try again, a few times;
                # rows this worker held come back to everyone when its lease runs out
                database_failures += 1
                if database_failures > MAX_DATABASE_RETRIES:
                    raise
                time.sleep(min(MAX_DATABASE_WAIT_SECONDS, s.idle_sleep_seconds * 2**database_failures))
                continue
            database_failures = 0
            if claimed == 0:
                if s.once:
                    break
                if stop is not None:
                    stop.wait(s.idle_sleep_seconds)
                else:
                    time.sleep(s.idle_sleep_seconds)
        self.summary.seconds = self.monotonic_fn() - started
        return self.summary


def dispatch(
    engine: Engine,
    adapters: Mapping[str, Adapter],
    *,
    worker_id: str,
    settings: DispatchSettings | None = None,
    now_fn: NowFn = utc_now,
    stop: threading.Event | None = None,
) -> DispatchSummary:
    """Run one worker (see :class:`Worker`) and return its summary."""
    worker = Worker(engine, adapters, worker_id, settings or DispatchSettings(), now_fn)
    return worker.run(stop)


AdapterFactory = Callable[[], Mapping[str, Adapter]]


def dispatch_parallel(
    engine: Engine,
    adapter_factory: AdapterFactory,
    *,
    workers: int,
    worker_prefix: str,
    settings: DispatchSettings | None = None,
    now_fn: NowFn = utc_now,
    stop: threading.Event | None = None,
) -> DispatchSummary:
    """Run ``workers`` workers in threads, each with its own adapters; merge their summaries."""
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers {workers} not in 1..{MAX_WORKERS}")
    results: list[DispatchSummary] = [DispatchSummary() for _ in range(workers)]
    errors: list[BaseException] = []
    stop = stop if stop is not None else threading.Event()

    def work(index: int) -> None:
        adapters: Mapping[str, Adapter] = {}
        try:
            adapters = adapter_factory()
            results[index] = dispatch(
                engine, adapters, worker_id=f"{worker_prefix}:{index}", settings=settings,
                now_fn=now_fn, stop=stop,
            )
        except BaseException as exc:
            errors.append(exc)
            stop.set()  # one worker failing stops the others: the command exits with the error
        finally:
            for adapter in {id(a): a for a in adapters.values()}.values():
                adapter.close()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    total = DispatchSummary()
    for result in results:
        total = total.merge(result)
    return total

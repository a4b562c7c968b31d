"""A large synthetic case load for benchmarks: ``bulk_load_cases(engine, n, seed)``.

Creates ``n`` customers, accounts and open cases directly (no book, no snapshot), deterministic
in ``seed``, spread round robin over ``collector_ids``. Data is generated column-wise with numpy;
PostgreSQL gets ``COPY`` in text format, SQLite batched executemany inserts. Names, phones,
e-mails (``.invalid``) and ID numbers (starting ``99``) are fake and customers are flagged
synthetic. Ends with VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite) of the three tables.
"""

from __future__ import annotations

import time as wallclock
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.orm import Session

from overdue.cases.queues import DEFAULT_QUEUES, QueueRouter, QueueRule, ensure_queues
from overdue.cases.synthetic import SYNTHETIC_DOMAIN
from overdue.store.tables import Account, Base, Case, Customer

MAX_BULK_CASES = 20_000_000
BATCH_ROWS = 50_000
SEGMENTS = ("salaried", "self_employed", "gig_worker", "student")
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华")
_BUCKET_TOPS = np.array([30, 60, 90, 120, 150, 180])
_BUCKETS = np.array(["M1", "M2", "M3", "M4", "M5", "M6", "M7"])

Columns = dict[str, list[Any]]


@dataclass(frozen=True)
class BulkLoadResult:
    cases: int
    seconds: float
    first_case_id: int
    last_case_id: int


def _ids(prefix: str, seed: int, start: int, size: int) -> list[str]:
    return [f"{prefix}{seed % 1000:03d}{i:010d}" for i in range(start, start + size)]


def _batch(
    rng: np.random.Generator,
    seed: int,
    start: int,
    size: int,
    as_of: date,
    collectors: Sequence[int],
    router: QueueRouter,
) -> tuple[Columns, Columns, Columns]:
    dpd = np.minimum(rng.geometric(1 / 25, size), 400)
    principal = rng.integers(10_000, 5_000_000, size)
    interest = (principal * rng.uniform(0.001, 0.05, size)).astype(np.int64)
    penalty = (principal * dpd * 5 // 10_000).astype(np.int64)
    overdue = (principal + interest + penalty).tolist()
    english = rng.random(size) < 0.08
    language = np.where(english, "en", "zh-CN").tolist()
    segment = np.array(SEGMENTS)[rng.integers(0, len(SEGMENTS), size)].tolist()
    bucket = _BUCKETS[np.searchsorted(_BUCKET_TOPS, dpd)].tolist()
    score = rng.beta(2, 5, size)
    priority = np.rint(score * np.array(overdue)).astype(np.int64).tolist()
    customer_ids = _ids("BC", seed, start, size)
    account_ids = _ids("BA", seed, start, size)
    names = np.char.add(
        np.array(_SURNAMES)[rng.integers(0, len(_SURNAMES), size)],
        np.array(_GIVEN)[rng.integers(0, len(_GIVEN), size)],
    ).tolist()
    phones = [f"138{n:08d}" for n in rng.integers(0, 10**8, size).tolist()]
    id_numbers = [f"99{n:016d}" for n in rng.integers(0, 10**16, size).tolist()]
    assigned = [
        collectors[(start + j) % len(collectors)] if collectors else None for j in range(size)
    ]
    same = [as_of] * size
    customers: Columns = {
        "customer_id": customer_ids,
        "name": names,
        "phone": phones,
        "email": [f"{c.lower()}@{SYNTHETIC_DOMAIN}" for c in customer_ids],
        "address": [f"浙江省示例市人民路{n % 200 + 1}号" for n in range(start, start + size)],
        "id_number": id_numbers,
        "language": language,
        "time_zone": np.where(english, "America/New_York", "Asia/Shanghai").tolist(),
        "segment": segment,
        "synthetic": [True] * size,
        "updated_on": same,
    }
    accounts: Columns = {
        "account_id": account_ids,
        "customer_id": customer_ids,
        "product": ["installment"] * size,
        "policy": ["jiebei-like"] * size,
        "currency": ["CNY"] * size,
        "status": ["overdue"] * size,
        "dpd": dpd.tolist(),
        "bucket_cn": bucket,
        "total_overdue_fen": overdue,
        "snapshot_as_of": same,
    }
    cases: Columns = {
        "account_id": account_ids,
        "customer_id": customer_ids,
        "status": ["open"] * size,
        "opened_on": same,
        "dpd": dpd.tolist(),
        "bucket_cn": bucket,
        "overdue_fen": overdue,
        "principal_fen": principal.tolist(),
        "interest_fen": interest.tolist(),
        "fee_fen": [0] * size,
        "penalty_fen": penalty.tolist(),
        "balance_fen": overdue,
        "queue": [
            router.route(b, s, lang) for b, s, lang in zip(bucket, segment, language, strict=True)
        ],
        "segment": segment,
        "language": language,
        "score": score.tolist(),
        "score_model_version": ["bulk-synthetic"] * size,
        "priority_score": priority,
        "assigned_user_id": assigned,
        "sla_due_on": same,
        "updated_on": same,
    }
    return customers, accounts, cases


def _batches(
    n: int, seed: int, as_of: date, collectors: Sequence[int]
) -> Iterator[tuple[Columns, Columns, Columns]]:
    rng = np.random.default_rng(seed)
    router = QueueRouter(QueueRule(q.name, q.bucket, q.segment, q.language) for q in DEFAULT_QUEUES)
    for start in range(0, n, BATCH_ROWS):
        yield _batch(rng, seed, start, min(BATCH_ROWS, n - start), as_of, collectors, router)


def _scalar_defaults(table: str) -> dict[str, Any]:
    """The table's Python-side scalar defaults (COPY and Core inserts of columns bypass them)."""
    defaults = {}
    for column in Base.metadata.tables[table].columns:
        default = column.default
        if default is not None and default.is_scalar:
            defaults[column.name] = default.arg  # type: ignore[attr-defined]
    return defaults


def _with_defaults(table: str, columns: Columns) -> Columns:
    size = len(next(iter(columns.values())))
    extra = {k: [v] * size for k, v in _scalar_defaults(table).items() if k not in columns}
    return {**columns, **extra}


def _tsv_column(values: list[Any]) -> list[str]:
    """A column in PostgreSQL's COPY text format (generated text never holds tabs/newlines)."""
    first = next((v for v in values if v is not None), None)
    if isinstance(first, bool):
        return ["t" if v else "f" for v in values]
    if isinstance(first, date):
        return [r"\N" if v is None else v.isoformat() for v in values]
    out = [r"\N" if v is None else str(v) for v in values]
    plain = (v for v in values[:100] if isinstance(v, str))
    assert not any(("\t" in s or "\n" in s or "\\" in s) for s in plain), "plain text only"
    return out


def _copy(connection: Connection, table: str, columns: Columns) -> None:
    names = list(columns)
    text_columns = [_tsv_column(columns[c]) for c in names]
    lines = "\n".join("\t".join(row) for row in zip(*text_columns, strict=True)) + "\n"
    raw: Any = connection.connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy,
    ):
        copy.write(lines.encode())


def _insert(connection: Connection, model: Any, columns: Columns) -> None:
    names = list(columns)
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    connection.execute(insert(model), rows)


DROP_INDEXES_FROM = 100_000  # rows: above this, PostgreSQL indexes are rebuilt after the load


def _drop_indexes(connection: Connection, tables: Sequence[str]) -> list[str]:
    """Drop the plain (``ix_``) indexes of ``tables``; returns their definitions."""
    rows = connection.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(:tables) AND indexname LIKE 'ix\\_%'"
        ),
        {"tables": list(tables)},
    ).all()
    for name, _definition in rows:
        connection.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _name, definition in rows]


def bulk_load_cases(
    engine: Engine,
    n: int,
    seed: int,
    *,
    as_of: date = date(2024, 6, 30),
    collector_ids: Sequence[int] = (),
) -> BulkLoadResult:
    """Load ``n`` synthetic open cases (with customers and accounts); see the module doc."""
    if not 0 < n <= MAX_BULK_CASES:
        raise ValueError(f"n: {n} must be between 1 and {MAX_BULK_CASES}")
    started = wallclock.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    with Session(engine) as session, session.begin():
        ensure_queues(session, DEFAULT_QUEUES)
    with engine.begin() as connection:
        before = connection.execute(text("SELECT COALESCE(MAX(case_id), 0) FROM cases")).scalar()
        rebuild: list[str] = []
        if postgres and n >= DROP_INDEXES_FROM:
            rebuild = _drop_indexes(connection, ("customers", "accounts", "cases"))
        for customers, accounts, cases in _batches(n, seed, as_of, list(collector_ids)):
            for name, model, columns in (
                ("customers", Customer, customers),
                ("accounts", Account, accounts),
                ("cases", Case, cases),
            ):
                full = _with_defaults(name, columns)
                if postgres:
                    _copy(connection, name, full)
                else:
                    _insert(connection, model, full)
        for definition in rebuild:
            connection.execute(text(definition))
        after = connection.execute(text("SELECT COALESCE(MAX(case_id), 0) FROM cases")).scalar()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # VACUUM sets the visibility map, so counts per collector can be index-only scans.
        command = "VACUUM ANALYZE" if postgres else "ANALYZE"
        for table in ("customers", "accounts", "cases"):
            connection.execute(text(f"{command} {table}"))
    return BulkLoadResult(
        cases=n,
        seconds=wallclock.perf_counter() - started,
        first_case_id=int(before or 0) + 1,
        last_case_id=int(after or 0),
    )


def bench_password(username: str) -> str:
    return f"{username}-pass"


def ensure_bench_collectors(engine: Engine, count: int) -> list[int]:
    """Collectors ``bench-collector-001``.. (password ``<username>-pass``), created if missing;
    their max_open_cases is large enough for a bulk load."""
    from sqlalchemy import select

    from overdue.cases.users import hash_password
    from overdue.cases.users_admin import ensure_team
    from overdue.store.tables import User

    ids: list[int] = []
    with Session(engine) as session, session.begin():
        team_id = ensure_team(session, "bench collectors", "collection")
        for i in range(1, count + 1):
            username = f"bench-collector-{i:03d}"
            found = session.scalar(select(User.id).where(User.username == username))
            if found is None:
                user = User(
                    username=username,
                    display_name=username,
                    role="collector",
                    team_id=team_id,
                    password_hash=hash_password(bench_password(username)),
                    skills={},
                    max_open_cases=MAX_BULK_CASES,
                    created_at=datetime.now(UTC),
                )
                session.add(user)
                session.flush()
                found = user.id
            ids.append(found)
    return ids

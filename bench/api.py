"""Load benchmark of the web workbench: the queue page and the case page under concurrent users.

    nice .venv/bin/python bench/api.py --cases 1000000 --users 50 --seconds 120

Steps:
1. a PostgreSQL schema (``--schema``, default ``bench_api``) in the test database
   (``--db`` or $OVERDUE_TEST_DATABASE_URL): migrated, one manager and ``--users`` collectors, and
   ``--cases`` synthetic open cases loaded with the store's bulk loader (COPY), dealt round robin
   to the collectors; reused when it already holds that many cases (``--fresh`` rebuilds it);
2. the app served by uvicorn in a separate process;
3. ``--users`` simulated collectors (asyncio + httpx), each signed in through the login form, each
   looping: GET /queue, think ``--think`` s, GET /cases/<one of the cases on its queue page>,
   think; requests started in the first ``--warmup`` seconds are not counted;
4. p50 / p95 / p99 per page (ms), request counts and errors, and the command line.
Goal: p95 under 100 ms for both pages. No timing is asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import httpx
import sqlalchemy as sa

PASSWORD = "bench password 1"
AS_OF = date(2024, 6, 30)
MAX_USERS = 500
SERVER = (
    "import sys; from overdue.web import WebSettings, run_server; "
    "run_server(WebSettings(database_url=sys.argv[1], webhook_secret='bench'), '127.0.0.1', "
    "int(sys.argv[2]))"
)


@dataclass
class Timings:
    ms: dict[str, list[float]] = field(default_factory=lambda: {"queue": [], "case": []})
    errors: dict[str, int] = field(default_factory=lambda: {"queue": 0, "case": 0, "login": 0})


def schema_url(base: str, schema: str) -> str:
    from overdue.store.testing import with_search_path

    return with_search_path(base, schema)


def prepare(base: str, schema: str, cases: int, users: int, fresh: bool) -> str:
    """The URL of a schema holding ``cases`` cases and the bench users (built when needed)."""
    from overdue.cases.bulk import bulk_load_cases
    from overdue.cases.users import hash_password
    from overdue.store.db import make_engine
    from overdue.store.migrate import upgrade
    from overdue.store.tables import Case, User

    url = schema_url(base, schema)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ready = sa.inspect(conn).has_table("cases") and (
                conn.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one() >= cases
            )
            if ready:
                ready = conn.execute(
                    sa.select(sa.func.count()).select_from(User).where(User.role == "collector")
                ).scalar_one() >= users
        if ready:
            print(f"reusing schema {schema} ({cases:,}+ cases)", flush=True)
            return url
        print(f"building schema {schema}: {cases:,} cases, {users} collectors", flush=True)
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            conn.commit()
        upgrade(url)
        digest = hash_password(PASSWORD)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            rows = [
                {"username": "bench_manager", "display_name": "Bench manager", "role": "manager"}
            ] + [
                {"username": f"bench_c{i:03d}", "display_name": f"Collector {i}", "role": "collector"}
                for i in range(users)
            ]
            for row in rows:
                conn.execute(
                    sa.insert(User).values(**row, language="en", password_hash=digest, created_at=now)
                )
            collectors = list(
                conn.execute(
                    sa.select(User.id).where(User.role == "collector").order_by(User.id)
                ).scalars()
            )
        started = time.perf_counter()
        result = bulk_load_cases(engine, cases, 11, as_of=AS_OF, collector_ids=collectors)
        print(f"loaded {result.cases:,} cases in {time.perf_counter() - started:.0f} s", flush=True)
        return url
    finally:
        engine.dispose()


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)], env=env)


async def wait_healthy(base_url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(f"{base_url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"the server at {base_url} did not answer /healthz within {seconds:.0f} s")


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "the login form has a CSRF token"
    answer = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"{username}: sign-in answered {answer.status_code}")


async def timed(client: httpx.AsyncClient, path: str) -> tuple[float, httpx.Response | None]:
    started = time.perf_counter()
    try:
        answer: httpx.Response | None = await client.get(path)
    except httpx.HTTPError:
        answer = None
    return (time.perf_counter() - started) * 1000, answer


async def simulated_user(
    base_url: str, username: str, logins: asyncio.Semaphore, start: asyncio.Event,
    counted_from: list[float], until: list[float], think_s: float, timings: Timings,
    signed: list[int],
) -> None:  # fmt: skip
    rng = random.Random(username)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, follow_redirects=False) as client:
        async with logins:
            try:
                await sign_in(client, username)
            except (RuntimeError, httpx.HTTPError):
                timings.errors["login"] += 1
                return
            finally:
                signed[0] += 1
        await start.wait()
        await asyncio.sleep(rng.uniform(0, think_s))  # spread the users over the think time
        while time.monotonic() < until[0]:
            began = time.monotonic()
            ms, answer = await timed(client, "/queue")
            ok = answer is not None and answer.status_code == 200
            _record(timings, "queue", ms, ok, began >= counted_from[0])
            ids = re.findall(r'data-case="(\d+)"', answer.text) if ok and answer else []
            await asyncio.sleep(think_s)
            if not ids:
                continue
            began = time.monotonic()
            ms, answer = await timed(client, f"/cases/{rng.choice(ids)}")
            ok = answer is not None and answer.status_code == 200
            _record(timings, "case", ms, ok, began >= counted_from[0])
            await asyncio.sleep(think_s)


def _record(timings: Timings, page: str, ms: float, ok: bool, counted: bool) -> None:
    if not counted:
        return
    if ok:
        timings.ms[page].append(ms)
    else:
        timings.errors[page] += 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def run_load(base_url: str, users: int, seconds: float, warmup: float, think: float) -> Timings:
    timings = Timings()
    logins = asyncio.Semaphore(4)
    start = asyncio.Event()
    counted_from, until, signed = [0.0], [0.0], [0]
    tasks = [
        asyncio.create_task(
            simulated_user(base_url, f"bench_c{i:03d}", logins, start, counted_from, until,
                           think, timings, signed)
        )
        for i in range(users)
    ]
    # every user signs in first (argon2 is slow on purpose), then the clock starts
    while signed[0] < users:
        await asyncio.sleep(0.2)
    print(f"{users} users signed in; measuring", flush=True)
    now = time.monotonic()
    counted_from[0], until[0] = now + warmup, now + warmup + seconds
    start.set()
    await asyncio.gather(*tasks)
    return timings


def report(timings: Timings, args: argparse.Namespace, command: str) -> None:
    print(f"\ncommand: {command}")
    print(
        f"{args.cases:,} cases in PostgreSQL, {args.users} users, think {args.think} s, "
        f"{args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up"
    )
    print(f"{'page':6} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for page in ("queue", "case"):
        values = timings.ms[page]
        print(
            f"{page:6} {len(values):9d} {timings.errors[page]:7d} {percentile(values, 50):8.1f} "
            f"{percentile(values, 95):8.1f} {percentile(values, 99):8.1f}"
        )
    print(f"login errors: {timings.errors['login']}")
    worst = max(percentile(timings.ms[p], 95) for p in ("queue", "case"))
    print(f"goal p95 < 100 ms: {'met' if worst < 100 else 'NOT met'} (worst p95 {worst:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--schema", default="bench_api")
    parser.add_argument(
        "--db",
        default=os.environ.get(
            "OVERDUE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the schema even if loaded")
    args = parser.parse_args()
    if not 1 <= args.users <= MAX_USERS or args.cases < args.users or args.seconds <= 0:
        parser.error(f"--users 1..{MAX_USERS}, --cases >= --users, --seconds > 0")
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    url = prepare(args.db, args.schema, args.cases, args.users, args.fresh)
    server = start_server(url, args.port)
    base_url = f"http://127.0.0.1:{args.port}"
    try:
        asyncio.run(wait_healthy(base_url))
        timings = asyncio.run(run_load(base_url, args.users, args.seconds, args.warmup, args.think))
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(timings, args, command)


if __name__ == "__main__":
    main()

"""A real server for the browser tests: a seeded SQLite store served by uvicorn in a thread on a
free port, and Chromium (system /usr/bin/chromium) driven by Playwright's sync API.

Skipped when Chromium or Playwright is missing, except under CI=true (then the tests fail)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser pass 7"
AS_OF = date(2024, 6, 30)
CASES = 10


def require_chromium() -> None:
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is not installed"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} (CI=true: the browser tests must run)")
        pytest.skip(missing)


@dataclass(frozen=True)
class Server:
    base_url: str
    database_url: str
    user_ids: dict[str, int]

    def query(self, statement: Any) -> list[Any]:
        from overdue.store.db import make_engine

        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(statement).all())
        finally:
            engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(url: str) -> dict[str, int]:
    from overdue.cases.bulk import bulk_load_cases
    from overdue.cases.users import hash_password
    from overdue.store.db import make_engine
    from overdue.store.migrate import upgrade
    from overdue.store.tables import Team, User

    upgrade(url)
    engine = make_engine(url)
    password_hash = hash_password(PASSWORD)
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        team = conn.execute(
            sa.insert(Team.__table__).values(name="Team B", kind="collection").returning(Team.__table__.c.id)
        ).scalar_one()
        for username, role in (("manager", "manager"), ("collector", "collector"),
                               ("collector2", "collector")):  # fmt: skip
            ids[username] = conn.execute(
                sa.insert(User.__table__)
                .values(username=username, display_name=username.title(), role=role,
                        team_id=team, language="en", password_hash=password_hash,
                        created_at=datetime.now(UTC))
                .returning(User.__table__.c.id)
            ).scalar_one()
    bulk_load_cases(engine, CASES, 3, as_of=AS_OF, collector_ids=[ids["collector"], ids["collector2"]])
    engine.dispose()
    return ids


def serve(tmp: Path) -> Iterator[Server]:
    import uvicorn

    from overdue.web import WebSettings, create_app

    url = f"sqlite:///{tmp / 'browser.db'}"
    ids = seed(url)
    app = create_app(WebSettings(database_url=url, webhook_secret="browser-secret"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", url, ids)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()


def sign_in(page: Any, base_url: str, username: str, lang: str = "en") -> None:
    page.goto(f"{base_url}/login?lang={lang}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    with contextlib.suppress(Exception):  # a timeout: the assertion below says what the page says
        page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    if "/login" in page.url:
        shown = page.locator(".error").all_inner_texts()
        raise AssertionError(f"{username} could not sign in: {page.url} {shown}")


# Text that reads the same in every language: numbers, amounts, codes, punctuation.
NEUTRAL = re.compile(r"^[\d\s\W_]*$|^[A-Z]{0,3}\d[\w,.\-: ]*$")

VISIBLE_TEXT_JS = """
() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    // axis tick labels of a chart are data (bucket codes, people's names, numbers)
    if (!parent || parent.closest('script, style, [translate="no"], .xtick, .ytick')) continue;
    const text = node.textContent.replace(/\\s+/g, ' ').trim();
    if (text) out.push(text);
  }
  return out;
}
"""

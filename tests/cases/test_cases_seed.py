"""The demo seed on a small twin book: logins per role, cases synced and assigned, a rerun
creates nothing twice."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from overdue.cases.access import actor_for_user
from overdue.cases.users import verify_password
from overdue.cases.views import list_queue
from overdue.portfolio.eod import run_eod
from overdue.store.db import make_engine
from overdue.store.tables import Case, User
from overdue.twin.generate import TwinSpec, generate_book


@pytest.fixture(scope="module")
def book_and_snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, date]:
    root = tmp_path_factory.mktemp("seed")
    book = root / "book"
    generate_book(TwinSpec(accounts=600, months=4, seed=11), book)
    as_of = date.fromisoformat(json.loads((book / "manifest.json").read_text())["last_date"])
    run_eod(book, as_of, root / "snap")
    return book, root / "snap", as_of


@pytest.mark.slow  # generates a twin book and runs its end of day
def test_seed_demo(book_and_snapshot: tuple[Path, Path, date], tmp_path: Path) -> None:
    from overdue.cases.seed import seed_demo

    book, snapshot, as_of = book_and_snapshot
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    logins = seed_demo(engine, book, snapshot, as_of)
    assert set(logins) == {
        "admin",
        "manager",
        "analyst",
        "collector",
        "collector2",
        "agency",
        "customer_service",
        "auditor",
    }
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        cases = session.scalar(select(func.count()).select_from(Case)) or 0
        assert cases > 0
        for key, (username, password) in logins.items():
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None and verify_password(user.password_hash, password), key
        collector = session.scalar(select(User).where(User.username == logins["collector"][0]))
        agency = session.scalar(select(User).where(User.username == logins["agency"][0]))
        assert collector is not None and agency is not None
        assert list_queue(session, actor_for_user(session, collector.id)).total > 0
        assert list_queue(session, actor_for_user(session, agency.id)).total > 0
    assert seed_demo(engine, book, snapshot, as_of) == logins
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == cases
        assert session.scalar(select(func.count()).select_from(User)) == 8
    engine.dispose()

"""Case-service fixtures: a migrated database per backend (SQLite file, PostgreSQL schema) for
the whole session; each test works in a transaction that is rolled back at the end."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from overdue.store import migrate
from overdue.store.db import make_engine
from overdue.store.testing import postgres_schema, require_postgres, sqlite_url

sys.path.insert(0, str(Path(__file__).parent))

from cases_world import World, build_world


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def cases_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("cases"))
        migrate.upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()
        return
    with postgres_schema(require_postgres(), prefix="cases") as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def session(cases_engine: Engine) -> Iterator[Session]:
    connection = cases_engine.connect()
    transaction = connection.begin()
    db = Session(bind=connection, expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        if transaction.is_active:
            transaction.rollback()
        connection.close()


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)

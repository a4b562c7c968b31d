"""Store fixtures: every test runs on SQLite (a temporary file) and on PostgreSQL (own schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from overdue.store import migrate
from overdue.store.db import make_engine
from overdue.store.testing import postgres_schema, require_postgres, sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database (no tables)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with postgres_schema(require_postgres(), prefix="store") as url:
        yield url


@pytest.fixture
def engine(blank_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the newest revision."""
    migrate.upgrade(blank_url)
    active = make_engine(blank_url)
    try:
        yield active
    finally:
        active.dispose()

"""Contact fixtures: a migrated store on SQLite (temporary file) and on PostgreSQL (own schema)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete

sys.path.insert(0, str(Path(__file__).parent))

from overdue.store import migrate
from overdue.store.db import make_engine
from overdue.store.testing import postgres_schema, require_postgres, sqlite_url

CLEARED_TABLES = (
    "outbox",
    "inbound_events",
    "channel_preferences",
    "payments",
    "contact_attempts",
    "cases",
    "accounts",
    "customers",
)  # children before parents (foreign keys)


@pytest.fixture(scope="session")
def contact_pg_url() -> Iterator[str]:
    """A migrated PostgreSQL schema for this test session (skips locally when PG is down)."""
    with postgres_schema(require_postgres(), prefix="contact") as url:
        migrate.upgrade(url)
        yield url


def _clear(engine: Engine) -> None:
    from overdue.store.tables import Base

    with engine.begin() as connection:
        for name in CLEARED_TABLES:
            connection.execute(delete(Base.metadata.tables[name]))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated store with empty outbox / inbound tables."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path, "contact.db")
        migrate.upgrade(url)
        return url
    url = request.getfixturevalue("contact_pg_url")
    engine = make_engine(url)
    try:
        _clear(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def store_engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def pg_engine(contact_pg_url: str) -> Iterator[Engine]:
    engine = make_engine(contact_pg_url)
    _clear(engine)
    try:
        yield engine
    finally:
        engine.dispose()

"""Isolated databases for tests: a SQLite file, or a uniquely named PostgreSQL schema.

Helpers' tests share one PostgreSQL database; each test database here is its own schema, reached
through ``search_path`` in the URL, and dropped afterwards. ``postgres_url_or_skip`` skips when
PostgreSQL is unreachable, except when ``CI=true`` (then it fails: CI must test PostgreSQL).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TEST_URL_ENV = "OVERDUE_TEST_DATABASE_URL"
DEFAULT_TEST_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return os.environ.get(TEST_URL_ENV) or DEFAULT_TEST_URL


def postgres_unavailable_reason(url: str | None = None) -> str | None:
    """None when PostgreSQL at ``url`` answers, else why not."""
    engine = create_engine(url or postgres_base_url(), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "unavailable"
        return f"PostgreSQL unavailable at {url or postgres_base_url()}: {exc}"
    finally:
        engine.dispose()
    return None


def require_postgres() -> str:
    """The PostgreSQL test URL; skips the test when unreachable (fails instead when CI=true)."""
    import pytest

    reason = postgres_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    return postgres_base_url()


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` first (psycopg ``options``)."""
    parsed = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


@contextmanager
def postgres_schema(base_url: str, prefix: str = "t") -> Iterator[str]:
    """A fresh schema in ``base_url``'s database; yields a URL bound to it; drops it at the end."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield with_search_path(base_url, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def sqlite_url(directory: Path, name: str = "store.db") -> str:
    return f"sqlite:///{directory / name}"

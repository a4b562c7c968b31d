"""Alembic migrations run from code: no alembic.ini needed in the working directory.

``upgrade(url)`` brings a database to the newest revision; ``downgrade(url, revision)`` goes back
(``"base"`` removes every table). Pass ``engine=`` instead of a URL to reuse an engine (tests do,
to keep a PostgreSQL search_path).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from overdue.store.db import database_url, make_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at the packaged migrations and at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    # ConfigParser interpolation: a literal % in a URL (an encoded password) must be doubled.
    config.set_main_option("sqlalchemy.url", database_url(url).replace("%", "%%"))
    return config


def _run(url: str | None, engine: Engine | None, action: str, revision: str) -> None:
    owned = engine is None
    active = engine if engine is not None else make_engine(url)
    config = alembic_config(url)
    try:
        with active.begin() as connection:
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        if owned:
            active.dispose()


def upgrade(url: str | None = None, revision: str = "head", *, engine: Engine | None = None) -> None:
    """Apply migrations up to ``revision`` (default: the newest)."""
    _run(url, engine, "upgrade", revision)


def downgrade(url: str | None, revision: str, *, engine: Engine | None = None) -> None:
    """Revert migrations down to ``revision`` (``"base"`` = empty database)."""
    _run(url, engine, "downgrade", revision)


def current(url: str | None = None, *, engine: Engine | None = None) -> str | None:
    """The revision the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    owned = engine is None
    active = engine if engine is not None else make_engine(url)
    try:
        with active.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if owned:
            active.dispose()

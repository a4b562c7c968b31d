"""Migrations up, down and up again on SQLite and PostgreSQL; the schema equals the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, delete, insert, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from overdue.store import migrate
from overdue.store.db import make_engine
from overdue.store.tables import AuditEntry, Base, Case, Team

EXPECTED_TABLES = set(Base.metadata.tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(blank_url: str) -> None:
    assert _tables(blank_url) == set()
    migrate.upgrade(blank_url)
    assert _tables(blank_url) == EXPECTED_TABLES
    assert migrate.current(blank_url) == "0003"
    migrate.downgrade(blank_url, "0001")
    assert migrate.current(blank_url) == "0001"
    assert _tables(blank_url) == EXPECTED_TABLES - {"ledger_waivers"}  # added by 0003
    migrate.downgrade(blank_url, "base")
    assert _tables(blank_url) == set()
    assert migrate.current(blank_url) is None
    migrate.upgrade(blank_url)
    assert _tables(blank_url) == EXPECTED_TABLES


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_audit_log_refuses_update_and_delete(engine: Engine) -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(AuditEntry).values(
                at=at, actor_role="admin", action="test", entity="case", details={"k": 1}
            )
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(update(AuditEntry).values(reason="rewritten"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(delete(AuditEntry))
    with engine.connect() as connection:
        rows = connection.execute(select(AuditEntry.reason, AuditEntry.at)).all()
    assert rows == [(None, at)]


def test_instants_come_back_in_utc_and_naive_ones_are_refused(engine: Engine) -> None:
    shanghai = timezone(timedelta(hours=8))
    local = datetime(2026, 3, 1, 9, 30, tzinfo=shanghai)
    with engine.begin() as connection:
        connection.execute(
            insert(AuditEntry).values(at=local, actor_role="admin", action="a", entity="e")
        )
    with engine.connect() as connection:
        stored = connection.execute(select(AuditEntry.at)).scalar_one()
    assert stored == local and stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="timezone-aware"), engine.begin() as connection:
        connection.execute(
            insert(AuditEntry).values(
                at=datetime(2026, 3, 1, 9, 30), actor_role="admin", action="a", entity="e"
            )
        )


def test_foreign_keys_and_checks_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(Team).values(name="x", kind="not-a-kind"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(Case).values(
                account_id="missing",
                customer_id="missing",
                opened_on=datetime(2026, 1, 1).date(),
                dpd=1,
                bucket_cn="M1",
                overdue_fen=100,
                balance_fen=100,
                updated_on=datetime(2026, 1, 1).date(),
            )
        )


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/wal.db")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()

"""Helpers and fixtures for the web tests: a migrated store (SQLite file, and PostgreSQL when
reachable — always under CI=true), users of every role, and sign-in through the real login form."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from overdue.cases.bulk import bulk_load_cases
from overdue.cases.users import hash_password
from overdue.compliance.profile import load_profile
from overdue.store.db import make_engine
from overdue.store.migrate import upgrade
from overdue.store.tables import Agency, Team, User
from overdue.store.testing import postgres_schema, require_postgres, sqlite_url
from overdue.web import WebSettings, create_app

PASSWORD = "correct horse 42"
SECRET = "test-webhook-secret"
ROLES = ("admin", "manager", "analyst", "collector", "agency", "customer_service", "auditor")
_HASH = hash_password(PASSWORD)


CASES = 12
AS_OF = date(2024, 6, 30)


def seed_users(url: str) -> dict[str, int]:
    """One user per role (username = role), a second collector ``collector2``, and CASES synthetic
    open cases (business date AS_OF) dealt alternately to ``collector`` and ``collector2``."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        team_id = conn.execute(
            sa.insert(Team.__table__)
            .values(name="Team A", kind="collection")
            .returning(Team.__table__.c.id)
        ).scalar_one()
        for name, kind in (("Service", "customer_service"), ("Risk", "risk"), ("Legal", "legal")):
            conn.execute(sa.insert(Team.__table__).values(name=name, kind=kind))
        agency_id = conn.execute(
            sa.insert(Agency.__table__)
            .values(code="AG1", name="Agency One")
            .returning(Agency.__table__.c.id)
        ).scalar_one()
        for username, role in [(r, r) for r in ROLES] + [("collector2", "collector")]:
            ids[username] = conn.execute(
                sa.insert(User.__table__)
                .values(
                    username=username,
                    display_name=f"{username.title()} Name",
                    role=role,
                    team_id=team_id if role == "collector" else None,
                    agency_id=agency_id if role == "agency" else None,
                    language="en",
                    password_hash=_HASH,
                    created_at=now,
                )
                .returning(User.__table__.c.id)
            ).scalar_one()
    bulk_load_cases(
        engine, CASES, 7, as_of=AS_OF, collector_ids=[ids["collector"], ids["collector2"]]
    )
    engine.dispose()
    return ids


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated and seeded SQLite file, copied for every test (migrating is the slow part)."""
    folder = tmp_path_factory.mktemp("web-template")
    url = sqlite_url(folder)
    upgrade(url)
    seed_users(url)
    return folder / "store.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated store with one user per role."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "store.db")
        yield sqlite_url(tmp_path)
        return
    base = require_postgres()
    with postgres_schema(base, prefix="web") as url:
        upgrade(url)
        seed_users(url)
        yield url


# the cn profile without quiet hours and caps: a test that logs calls must not depend on the wall
# clock or on how many calls it logs (test_web_contact_gate.py tests the gate with the real cn
# profile, time zones chosen from the clock); the customer flags still apply
PERMISSIVE_PROFILE = load_profile("cn").model_copy(
    update={
        "quiet_channels": [],
        "max_connected_calls_per_day": None,
        "max_unanswered_per_number_per_day": None,
    }
)


def make_settings(url: str, **overrides: object) -> WebSettings:
    overrides.setdefault("compliance_profile", PERMISSIVE_PROFILE)
    return WebSettings(database_url=url, webhook_secret=SECRET, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def app(store_url: str) -> Iterator[FastAPI]:
    application = create_app(make_settings(store_url))
    yield application
    application.state.engine.dispose()


def client(app: FastAPI) -> TestClient:
    return TestClient(app, follow_redirects=False)


def login_csrf(c: TestClient) -> str:
    page = c.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the login form carries a CSRF token"
    return found.group(1)


def sign_in(c: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token (from /api/v1/me)."""
    answer = c.post(
        "/login", data={"username": username, "password": password, "csrf_token": login_csrf(c)}
    )
    assert answer.status_code == 303, answer.text
    return str(c.get("/api/v1/me").json()["csrf_token"])


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)

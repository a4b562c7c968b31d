"""The web app's settings: one frozen record, built by the CLI or the demo, passed to create_app."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from overdue.compliance.profile import Profile

MAX_PAGE_SIZE = 200
LOGIN_FAILURES_PER_MINUTE = 5


DEV_LINK_SECRET = "dev-link-secret-change-me"


def link_secret_from_env() -> str:
    """The secret that signs customers' self-service links: $OVERDUE_LINK_SECRET, else a
    development secret (``overdue serve`` warns when it uses that)."""

    return os.environ.get("OVERDUE_LINK_SECRET", "") or DEV_LINK_SECRET


@dataclass(frozen=True)
class WebSettings:
    """Everything the app needs to know at start.

    ``database_url`` None means the store's default (env OVERDUE_DATABASE_URL, else ./overdue.db).
    ``snapshot_dir`` (and optionally ``book_dir`` for vintage curves) feed the manager dashboard.
    Sessions end after ``session_idle_minutes`` without a request or ``session_absolute_hours`` after
    login, whichever comes first.
    """

    database_url: str | None = None
    snapshot_dir: Path | None = None
    book_dir: Path | None = None
    strategy_figures: Path | None = None  # JSON of a strategy run's arms (the demo writes one)
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    webhook_secret: str = "change-me"
    link_secret: str = DEV_LINK_SECRET  # signs customers' self-service links
    secure_cookies: bool = False
    login_failures_per_minute: int = LOGIN_FAILURES_PER_MINUTE
    default_language: str = "en"
    business_date: date | None = None
    # the gate's profile for people's contacts: a shipped name (cn, us), a TOML file, or a Profile
    compliance_profile: str | Path | Profile = "cn"

    def __post_init__(self) -> None:
        assert 1 <= self.session_idle_minutes <= 24 * 60, "idle timeout 1 minute .. 1 day"
        assert 1 <= self.session_absolute_hours <= 24 * 7, "absolute timeout 1 hour .. 1 week"
        assert self.session_idle_minutes <= self.session_absolute_hours * 60
        assert self.webhook_secret, "the payments webhook needs a shared secret"
        assert self.link_secret, "self-service links need a secret"
        assert 1 <= self.login_failures_per_minute <= 100

"""The web app's settings: one frozen record, built by the CLI or the demo, passed to create_app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from overdue.compliance.profile import Profile

MAX_PAGE_SIZE = 200
LOGIN_FAILURES_PER_MINUTE = 5


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
        assert 1 <= self.login_failures_per_minute <= 100

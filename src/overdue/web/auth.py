"""Sign-in, server-side sessions, CSRF tokens and the login rate limit.

A session is a random token in an HttpOnly SameSite=Lax cookie; the store keeps only its SHA-256
(table ``web_sessions``), with a CSRF token, the absolute expiry and the last time it was seen (idle
expiry). Every login attempt is a row of ``login_attempts``; once a username or an IP has
``login_failures_per_minute`` wrong passwords within the last minute, the next attempt is refused
(429) even when the password is right.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from overdue.web.settings import WebSettings

SESSION_COOKIE = "overdue_session"
LOGIN_CSRF_COOKIE = "overdue_login_csrf"
TOUCH_EVERY = timedelta(seconds=60)
RATE_WINDOW = timedelta(minutes=1)
ROLES = ("admin", "manager", "analyst", "collector", "agency", "customer_service", "auditor")


@dataclass(frozen=True)
class SessionUser:
    """The signed-in user of one request."""

    id: int
    username: str
    display_name: str
    role: str
    team_id: int | None
    agency_id: int | None
    language: str | None
    csrf_token: str
    token_hash: str


class LoginRefused(Exception):
    """Wrong username or password (401) or too many recent failures (429)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def utc_now() -> datetime:
    """The request's wall-clock time (the web edge is where the clock may be read)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes: they are stored in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    from overdue.store.tables import Base

    meta = Base.metadata
    return meta.tables["users"], meta.tables["web_sessions"], meta.tables["login_attempts"]


def recent_failures(conn: Connection, username: str, ip: str, now: datetime) -> int:
    """Wrong passwords within the last minute for this username or this IP (the larger count)."""
    _, _, attempts = tables()
    since = now - RATE_WINDOW
    base = sa.select(sa.func.count()).select_from(attempts)
    base = base.where(attempts.c.at >= since, attempts.c.ok.is_(False))
    by_user = conn.execute(base.where(attempts.c.username == username)).scalar_one()
    by_ip = conn.execute(base.where(attempts.c.ip == ip)).scalar_one()
    return max(int(by_user), int(by_ip))


def _record_attempt(conn: Connection, username: str, ip: str, now: datetime, ok: bool) -> None:
    _, _, attempts = tables()
    conn.execute(sa.insert(attempts).values(username=username[:100], ip=ip[:64], at=now, ok=ok))


def _verify(stored_hash: str | None, password: str) -> bool:
    from overdue.cases.users import verify_password

    if not stored_hash:
        return False
    return bool(verify_password(stored_hash, password))


def login(
    conn: Connection, settings: WebSettings, username: str, password: str, ip: str, now: datetime
) -> tuple[str, SessionUser]:
    """Check the password and open a session: (the cookie token, the user). Raises LoginRefused."""
    users, sessions, _ = tables()
    if recent_failures(conn, username, ip, now) >= settings.login_failures_per_minute:
        _record_attempt(conn, username, ip, now, ok=False)
        raise LoginRefused(429, "too many wrong passwords in the last minute; wait and retry")
    row = conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()
    active = row is not None and row.get("active", True) is not False
    if row is None or not active or not _verify(row["password_hash"], password):
        _record_attempt(conn, username, ip, now, ok=False)
        raise LoginRefused(401, "wrong username or password")
    _record_attempt(conn, username, ip, now, ok=True)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    digest = token_hash(token)
    conn.execute(
        sa.insert(sessions).values(
            token_hash=digest,
            user_id=row["id"],
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=settings.session_absolute_hours),
            last_seen_at=now,
        )
    )
    return token, _session_user(row, csrf, digest)


def _session_user(row: sa.RowMapping, csrf: str, digest: str) -> SessionUser:
    return SessionUser(
        id=int(row["id"]),
        username=str(row["username"]),
        display_name=str(row.get("display_name") or row["username"]),
        role=str(row["role"]),
        team_id=row.get("team_id"),
        agency_id=row.get("agency_id"),
        language=row.get("language"),
        csrf_token=csrf,
        token_hash=digest,
    )


def lookup(
    conn: Connection, settings: WebSettings, token: str | None, now: datetime
) -> SessionUser | None:
    """The session's user, or None when the token is unknown or the session has expired."""
    if not token or len(token) > 200:
        return None
    users, sessions, _ = tables()
    digest = token_hash(token)
    found = conn.execute(
        sa.select(
            users,
            sessions.c.csrf_token,
            sessions.c.expires_at,
            sessions.c.last_seen_at,
        )
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == digest)
    ).mappings().first()
    if found is None:
        return None
    idle = timedelta(minutes=settings.session_idle_minutes)
    last_seen = as_utc(found["last_seen_at"])
    if as_utc(found["expires_at"]) <= now or last_seen + idle <= now:
        conn.execute(sa.delete(sessions).where(sessions.c.token_hash == digest))
        return None
    if found.get("active", True) is False:
        return None
    if now - last_seen >= TOUCH_EVERY:
        conn.execute(
            sa.update(sessions).where(sessions.c.token_hash == digest).values(last_seen_at=now)
        )
    return _session_user(found, str(found["csrf_token"]), digest)


def logout(conn: Connection, token: str | None) -> None:
    if token:
        _, sessions, _ = tables()
        conn.execute(sa.delete(sessions).where(sessions.c.token_hash == token_hash(token)))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)

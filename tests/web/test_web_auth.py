"""Sign-in, sessions, CSRF and the login rate limit, against a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi import FastAPI
from web_support import PASSWORD, client, login_csrf, make_settings, page_csrf, sign_in

from overdue.store.tables import LoginAttempt, WebSession
from overdue.web import create_app
from overdue.web.auth import SESSION_COOKIE, token_hash


def test_healthz_answers_without_a_session(app: FastAPI) -> None:
    answer = client(app).get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert answer.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_openapi_documents_the_api(app: FastAPI) -> None:
    spec = client(app).get("/openapi.json").json()
    assert "/api/v1/webhooks/payments" in spec["paths"]
    assert any(path.startswith("/api/v1/cases") for path in spec["paths"])


def test_login_stores_only_the_token_hash_and_sets_a_safe_cookie(app: FastAPI) -> None:
    c = client(app)
    answer = c.post(
        "/login", data={"username": "manager", "password": PASSWORD, "csrf_token": login_csrf(c)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    token = c.cookies[SESSION_COOKIE]
    with app.state.engine.connect() as conn:
        stored = conn.execute(sa.select(WebSession.__table__.c.token_hash)).scalars().all()
    assert stored == [token_hash(token)] and token not in stored


def test_wrong_password_is_refused_and_a_page_needs_a_session(app: FastAPI) -> None:
    c = client(app)
    answer = c.post(
        "/login", data={"username": "manager", "password": "nope", "csrf_token": login_csrf(c)}
    )
    assert answer.status_code == 401 and SESSION_COOKIE not in c.cookies
    assert c.get("/dashboard").headers["location"] == "/login"


def test_the_sixth_wrong_password_in_a_minute_is_refused_even_when_correct(app: FastAPI) -> None:
    c = client(app)
    for _ in range(5):
        wrong = c.post(
            "/login", data={"username": "analyst", "password": "bad", "csrf_token": login_csrf(c)}
        )
        assert wrong.status_code == 401
    sixth = c.post(
        "/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": login_csrf(c)}
    )
    assert sixth.status_code == 429 and SESSION_COOKIE not in c.cookies
    # another username from the same IP is refused too (the IP has five failures)
    other = c.post(
        "/login", data={"username": "manager", "password": PASSWORD, "csrf_token": login_csrf(c)}
    )
    assert other.status_code == 429


def test_failures_older_than_a_minute_no_longer_count(app: FastAPI) -> None:
    c = client(app)
    for _ in range(5):
        c.post("/login", data={"username": "auditor", "password": "x", "csrf_token": login_csrf(c)})
    with app.state.engine.begin() as conn:
        attempts = LoginAttempt.__table__
        conn.execute(sa.update(attempts).values(at=datetime.now(UTC) - timedelta(minutes=2)))
    sign_in(c, "auditor")


def test_login_form_without_its_csrf_token_is_refused(app: FastAPI) -> None:
    c = client(app)
    c.get("/login")
    answer = c.post("/login", data={"username": "manager", "password": PASSWORD})
    assert answer.status_code == 403 and SESSION_COOKIE not in c.cookies


def test_form_post_without_csrf_is_refused(app: FastAPI) -> None:
    c = client(app)
    sign_in(c, "manager")
    refused = c.post("/logout", data={})
    assert refused.status_code == 403
    assert c.get("/dashboard").status_code == 200, "the refused logout did not end the session"
    wrong = c.post("/logout", data={"csrf_token": "forged"})
    assert wrong.status_code == 403
    page = c.get("/dashboard")
    ok = c.post("/logout", data={"csrf_token": page_csrf(page.text)})
    assert ok.status_code == 303
    assert c.get("/dashboard").headers["location"] == "/login"


def test_api_write_with_the_cookie_needs_the_csrf_header(app: FastAPI) -> None:
    c = client(app)
    csrf = sign_in(c, "collector")
    assert c.post("/api/v1/cases/1/notes", json={"body": "x"}).status_code == 403
    with_header = c.post("/api/v1/cases/1/notes", json={"body": "x"}, headers={"X-CSRF-Token": csrf})
    assert with_header.status_code != 403 or "csrf" not in with_header.json()["type"]


def _expire(app: FastAPI, **values: datetime) -> None:
    with app.state.engine.begin() as conn:
        conn.execute(sa.update(WebSession.__table__).values(**values))


def test_session_past_its_absolute_expiry_is_sent_to_login(app: FastAPI) -> None:
    c = client(app)
    sign_in(c, "manager")
    assert c.get("/dashboard").status_code == 200
    _expire(app, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert c.get("/dashboard").headers["location"] == "/login"
    assert c.get("/api/v1/me").status_code == 401


def test_idle_session_is_sent_to_login(store_url: str) -> None:
    app = create_app(make_settings(store_url, session_idle_minutes=5))
    c = client(app)
    sign_in(c, "manager")
    _expire(app, last_seen_at=datetime.now(UTC) - timedelta(minutes=6))
    assert c.get("/dashboard").headers["location"] == "/login"
    app.state.engine.dispose()


def test_settings_travel_to_worker_processes_unchanged(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from overdue.web import WebSettings
    from overdue.web.server import settings_from_json, settings_to_json

    settings = WebSettings(
        database_url="sqlite:///x.db", snapshot_dir=tmp_path, webhook_secret="s",
        session_idle_minutes=7, business_date=date(2024, 6, 30),
    )  # fmt: skip
    assert settings_from_json(settings_to_json(settings)) == settings

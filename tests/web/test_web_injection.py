"""SQL injection and script injection through every text field are harmless: the text is stored
verbatim (bound parameters, never SQL text) and every page shows it escaped."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from markupsafe import escape
from web_support import CASES, client, login_csrf, make_settings, page_csrf, sign_in

from overdue.store.tables import AuditEntry, Case, ContactAttempt, Note, Transfer, User
from overdue.web import create_app

PAYLOADS = [
    "'; DROP TABLE cases; --",
    "' OR '1'='1",
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "Robert'); DELETE FROM users; -- <b>bold</b>",
]


def _count(app: FastAPI, table: type) -> int:
    with app.state.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _assert_escaped(html: str, payload: str) -> None:
    if any(ch in payload for ch in "<>\"'"):
        assert payload not in html, "raw payload in the page"
    assert str(escape(payload)) in html, "escaped payload missing from the page"


def _my_case(c) -> int:  # type: ignore[no-untyped-def]
    return int(c.get("/api/v1/cases").json()["items"][0]["case_id"])


def test_case_forms_and_api_store_text_verbatim_and_pages_escape_it(app: FastAPI) -> None:
    c = client(app)
    csrf = sign_in(c, "collector")
    case_id = _my_case(c)
    form = page_csrf(c.get(f"/cases/{case_id}").text)
    for payload in PAYLOADS:
        _case_text_fields(app, c, case_id, form, csrf, payload)


def _case_text_fields(app: FastAPI, c, case_id: int, form: str, csrf: str, payload: str) -> None:  # type: ignore[no-untyped-def]
    # form fields: note, call-outcome note, transfer note; API fields: note, recording_ref
    assert c.post(f"/cases/{case_id}/note", data={"csrf_token": form, "body": payload}).status_code == 303
    c.post(
        f"/cases/{case_id}/outcome",
        data={"csrf_token": form, "channel": "voice_agent", "outcome": "other", "note": payload + " 2"},
    )
    api = c.post(
        f"/api/v1/cases/{case_id}/outcomes",
        json={"outcome": "busy", "connected": False, "recording_ref": payload, "note": payload + " 3"},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 201
    page = c.get(f"/cases/{case_id}").text
    for text in (payload, payload + " 2", payload + " 3"):
        _assert_escaped(page, text)
    moved = c.post(
        f"/cases/{case_id}/transfer", data={"csrf_token": form, "reason": "legal", "note": payload}
    )
    assert moved.status_code == 303 and "error" not in moved.headers["location"]
    with app.state.engine.connect() as conn:
        notes = set(conn.execute(sa.select(Note.body)).scalars())
        refs = set(conn.execute(sa.select(ContactAttempt.recording_ref)).scalars())
        transfer_notes = set(conn.execute(sa.select(Transfer.note)).scalars())
    assert {payload.strip(), (payload + " 2").strip(), (payload + " 3").strip()} <= notes
    assert payload in refs and payload in transfer_notes
    assert _count(app, Case) == CASES and _count(app, User) == 8


def test_sign_in_fields_and_query_parameters_are_harmless(store_url: str) -> None:
    # ten wrong passwords in a row here: a limit above them keeps the answers 401, not 429
    app = create_app(make_settings(store_url, login_failures_per_minute=100))
    other = client(app)
    sign_in(other, "admin")
    for payload in PAYLOADS:
        _sign_in_and_queries(app, other, payload)
    app.state.engine.dispose()


def _sign_in_and_queries(app: FastAPI, other, payload: str) -> None:  # type: ignore[no-untyped-def]
    c = client(app)
    for username, password in ((payload, payload), ("manager", payload)):
        answer = c.post(
            "/login", data={"username": username, "password": password, "csrf_token": login_csrf(c)}
        )
        assert answer.status_code == 401
        if username == payload:  # the form shows the username again, escaped
            _assert_escaped(answer.text, username)
    listed = other.get("/api/v1/cases", params={"queue": payload, "status": "all"})
    assert listed.status_code == 200 and listed.json()["total"] == 0
    case_id = _my_case(other)
    shown = other.get(f"/cases/{case_id}", params={"reason": payload})
    assert shown.status_code == 200
    if any(ch in payload for ch in "<>\"'"):
        assert payload not in shown.text
    with app.state.engine.connect() as conn:
        reasons = set(conn.execute(sa.select(AuditEntry.reason)).scalars())
    assert payload in reasons, "the reason to see the ID number is audited verbatim"
    assert _count(app, Case) == CASES and _count(app, User) == 8


def test_admin_text_fields_are_stored_verbatim_and_escaped(app: FastAPI) -> None:
    c = client(app)
    csrf = sign_in(c, "admin")
    for n, payload in enumerate(PAYLOADS):
        _admin_text_fields(app, c, csrf, n, payload)


def _admin_text_fields(app: FastAPI, c, csrf: str, n: int, payload: str) -> None:  # type: ignore[no-untyped-def]
    form = page_csrf(c.get("/admin").text)
    made = c.post(
        "/admin/users",
        data={"csrf_token": form, "username": f"inj_user{n}", "display_name": payload,
              "role": "analyst", "password": "longenough1"},
    )
    assert made.status_code == 303 and "done=user" in made.headers["location"]
    api = c.post(
        "/api/v1/users",
        json={"username": f"inj_api{n}", "display_name": payload + " api", "role": "auditor",
              "password": "longenough1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 201
    bad_name = c.post(
        "/api/v1/users",
        json={"username": payload, "display_name": "x", "role": "auditor", "password": "longenough1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad_name.status_code == 422, "usernames are restricted to a safe alphabet"
    page = c.get("/admin").text
    _assert_escaped(page, payload)
    _assert_escaped(page, payload + " api")
    with app.state.engine.connect() as conn:
        names = set(conn.execute(sa.select(User.display_name)).scalars())
    assert {payload, payload + " api"} <= names
    assert _count(app, Case) == CASES

"""Every API route without a session answers 401 (problem+json); the webhook without a valid
signature answers 401. Routes are read from the app, so new ones are covered automatically."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from web_support import SECRET, client

from overdue.web.webhook import sign

WEBHOOK = "/api/v1/webhooks/payments"
PUBLIC_PAGES = {"/healthz", "/login", "/static/plotly.min.js"}
SELF_SERVICE = "/self/{token}"  # customers' pages: a signed link instead of a session


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def all_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, included routers flattened."""
    out = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute) and context.path and context.methods:
            out.extend((method, context.path) for method in sorted(context.methods))
    return out


def _api_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p in all_routes(app) if p.startswith("/api/")]


def test_there_are_api_routes_to_check(app: FastAPI) -> None:
    paths = {path for _, path in _api_routes(app)}
    assert {"/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/users", WEBHOOK} <= paths
    assert len(paths) >= 10


def test_every_api_route_without_a_session_gets_401(app: FastAPI) -> None:
    c = client(app)
    checked = 0
    for method, path in _api_routes(app):
        if path == WEBHOOK:
            continue
        answer = c.request(method, _concrete(path), json={})
        assert answer.status_code == 401, f"{method} {path}: {answer.status_code}"
        assert answer.headers["content-type"].startswith("application/problem+json")
        body = answer.json()
        assert body["status"] == 401 and body["title"] and "sign in" in body["detail"]
        checked += 1
    assert checked >= 10


def test_a_forged_or_unknown_session_cookie_gets_401(app: FastAPI) -> None:
    c = client(app)
    c.cookies.set("overdue_session", "forged-token")
    for method, path in _api_routes(app):
        if path != WEBHOOK:
            assert c.request(method, _concrete(path), json={}).status_code == 401, path


def test_every_page_route_without_a_session_goes_to_login(app: FastAPI) -> None:
    c = client(app)
    pages = [(m, p) for m, p in all_routes(app) if not p.startswith("/api/")]
    assert ("GET", "/queue") in pages and ("POST", "/cases/{case_id}/promise") in pages
    for method, path in pages:
        if path in PUBLIC_PAGES:
            continue
        answer = c.request(method, _concrete(path), data={})
        if path.startswith(SELF_SERVICE):  # the signed link is the credential: none, no page
            assert answer.status_code == 404, f"{method} {path}: {answer.status_code}"
            continue
        assert answer.status_code == 303, f"{method} {path}: {answer.status_code}"
        assert answer.headers["location"] == "/login"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Signature": ""},
        {"X-Signature": "00" * 32},
        {"X-Signature": sign("another-secret", b'{"payment_id": "P1"}')},
    ],
)
def test_webhook_without_a_valid_signature_gets_401(app: FastAPI, headers: dict[str, str]) -> None:
    body = b'{"payment_id": "P1", "account_id": "A1", "amount_fen": 100, "value_date": "2024-06-30"}'
    answer = client(app).post(WEBHOOK, content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_webhook_signature_covers_the_raw_body(app: FastAPI) -> None:
    body = b'{"payment_id": "P2", "account_id": "A1", "amount_fen": 100, "value_date": "2024-06-30"}'
    tampered = body.replace(b"100", b"999")
    answer = client(app).post(WEBHOOK, content=tampered, headers={"X-Signature": sign(SECRET, body)})
    assert answer.status_code == 401

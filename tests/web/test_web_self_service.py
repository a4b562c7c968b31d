"""The customer's self-service page (``/self/<signed link>``), on SQLite and PostgreSQL: a bad
link learns nothing; the page shows the customer's own cases in their language with what makes
up the overdue amount; a promise, a request for help, a stopped channel, contact hours and a
complaint land in the store as the operation's own records, audited as the customer's; a stopped
channel blocks a collector's later call through the compliance gate; a customer cannot act on
another customer's case; actions are capped per day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time, timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_support import AS_OF, client, make_settings, sign_in

from overdue.cases.self_service import MAX_ACTIONS_PER_DAY
from overdue.cases.self_service_links import issue_token
from overdue.store.tables import (
    AuditEntry,
    Case,
    ChannelPreference,
    Complaint,
    Customer,
    Promise,
    Transfer,
)
from overdue.web import create_app

LINK_SECRET = "test-link-secret"


@pytest.fixture
def self_app(store_url: str) -> Iterator[FastAPI]:
    application = create_app(make_settings(store_url, link_secret=LINK_SECRET, business_date=AS_OF))
    yield application
    application.state.engine.dispose()


def _cases(app: FastAPI) -> list[tuple[int, str, int | None]]:
    """(case id, customer id, assigned user) of every open case."""
    with app.state.engine.begin() as conn:
        rows = conn.execute(
            sa.select(Case.case_id, Case.customer_id, Case.assigned_user_id)
            .where(Case.status == "open")
            .order_by(Case.case_id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _link(customer_id: str, **kwargs: object) -> str:
    token = issue_token(LINK_SECRET, customer_id, as_of=AS_OF, **kwargs)  # type: ignore[arg-type]
    return f"/self/{token}"


def _set_language(app: FastAPI, customer_id: str, language: str) -> None:
    with app.state.engine.begin() as conn:
        conn.execute(
            sa.update(Customer).where(Customer.customer_id == customer_id).values(language=language)
        )


def test_a_bad_or_expired_link_gets_404_before_any_form_is_read(self_app: FastAPI) -> None:
    c = client(self_app)
    customer_id = _cases(self_app)[0][1]
    good = _link(customer_id)
    expired = f"/self/{issue_token(LINK_SECRET, customer_id, as_of=AS_OF - timedelta(days=20))}"
    forged = f"/self/{issue_token('another-secret', customer_id, as_of=AS_OF)}"
    assert c.get(good).status_code == 200
    for url in (expired, forged, "/self/nonsense", good[:-2] + "xx"):
        answer = c.get(url)
        assert answer.status_code == 404 and customer_id not in answer.text, url
        assert c.post(url + "/promise", data={}).status_code == 404, url


def test_the_page_shows_the_customers_own_cases_in_their_language(self_app: FastAPI) -> None:
    c = client(self_app)
    case_id, customer_id, _ = _cases(self_app)[0]
    _set_language(self_app, customer_id, "zh-CN")
    page = c.get(_link(customer_id))
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert "您今天的欠款" in page.text and "征信中心" in page.text
    assert f'data-case="{case_id}"' in page.text
    others = {cid for cid, cust, _ in _cases(self_app) if cust != customer_id}
    assert not any(f'data-case="{other}"' in page.text for other in others)
    assert page.headers["cache-control"] == "no-store"
    english = c.get(_link(customer_id) + "?lang=en")
    assert "What you owe today" in english.text and "Penalty interest" in english.text


def test_a_promise_is_recorded_and_audited_as_the_customers(self_app: FastAPI) -> None:
    c = client(self_app)
    case_id, customer_id, _ = _cases(self_app)[0]
    url = _link(customer_id)
    promised = (AS_OF + timedelta(days=5)).isoformat()
    answer = c.post(
        url + "/promise", data={"case_id": case_id, "amount": "120.50", "promised_date": promised}
    )
    assert answer.status_code == 303 and "done=promise" in answer.headers["location"]
    with self_app.state.engine.begin() as conn:
        promise = conn.execute(sa.select(Promise).where(Promise.case_id == case_id)).one()
        roles = conn.execute(
            sa.select(AuditEntry.action, AuditEntry.actor_role).where(
                AuditEntry.actor_role == "customer"
            )
        ).all()
    assert promise.amount_fen == 12050 and promise.status == "pending"
    assert promise.created_by is None
    assert {("self_service_promise", "customer"), ("record_promise", "customer")} <= set(roles)
    page = c.get(answer.headers["location"])
    assert 'id="flash"' in page.text
    too_late = (AS_OF + timedelta(days=400)).isoformat()
    refused = c.post(
        url + "/promise", data={"case_id": case_id, "amount": "1", "promised_date": too_late}
    )
    assert "failed=promised" in refused.headers["location"]


def test_a_customer_cannot_act_on_another_customers_case(self_app: FastAPI) -> None:
    c = client(self_app)
    cases = _cases(self_app)
    mine, theirs = cases[0], next(k for k in cases if k[1] != cases[0][1])
    promised = (AS_OF + timedelta(days=3)).isoformat()
    data = {"case_id": theirs[0], "amount": "10", "promised_date": promised}
    answer = c.post(_link(mine[1]) + "/promise", data=data)
    assert "failed=" in answer.headers["location"]
    help_answer = c.post(_link(mine[1]) + "/help", data={"case_id": theirs[0], "kind": "dispute"})
    assert "failed=" in help_answer.headers["location"]
    with self_app.state.engine.begin() as conn:
        assert conn.execute(sa.select(Promise).where(Promise.case_id == theirs[0])).first() is None
        status = conn.execute(sa.select(Case.status).where(Case.case_id == theirs[0])).scalar()
    assert status == "open"


def test_hardship_goes_to_customer_service_and_pauses_collection(self_app: FastAPI) -> None:
    c = client(self_app)
    case_id, customer_id, _ = _cases(self_app)[0]
    answer = c.post(
        _link(customer_id) + "/help",
        data={"case_id": case_id, "kind": "hardship", "text": "lost my job, 3 months please"},
    )
    assert "done=help" in answer.headers["location"]
    with self_app.state.engine.begin() as conn:
        case = conn.execute(sa.select(Case).where(Case.case_id == case_id)).one()
        transfer = conn.execute(sa.select(Transfer).where(Transfer.case_id == case_id)).one()
        hardship = conn.execute(
            sa.select(Customer.hardship).where(Customer.customer_id == customer_id)
        ).scalar()
    assert case.status == "paused" and case.pause_reason == "hardship" and hardship
    assert transfer.reason == "hardship" and "lost my job" in (transfer.note or "")
    legal = c.post(_link(customer_id) + "/help", data={"case_id": case_id, "kind": "legal"})
    assert "failed=other" in legal.headers["location"]  # a customer cannot send a case to legal


def test_a_stopped_channel_blocks_a_collectors_later_call(self_app: FastAPI) -> None:
    collector_id = _collector_id(self_app)
    case_id, customer_id, _ = next(k for k in _cases(self_app) if k[2] == collector_id)
    c = client(self_app)
    answer = c.post(_link(customer_id) + "/stop", data={"channel": "voice_agent"})
    assert "done=stop" in answer.headers["location"]
    assert 'id="stopped-voice_agent"' in c.get(_link(customer_id)).text
    with self_app.state.engine.begin() as conn:
        preference = conn.execute(
            sa.select(ChannelPreference).where(ChannelPreference.customer_id == customer_id)
        ).one()
    assert preference.channel == "voice_agent" and preference.opted_out
    assert preference.source == "self-service"
    collector = client(self_app)
    csrf = {"X-CSRF-Token": sign_in(collector, "collector")}
    call = {"channel": "voice_agent", "outcome": "no_answer", "connected": True}
    blocked = collector.post(f"/api/v1/cases/{case_id}/outcomes", json=call, headers=csrf)
    assert blocked.status_code == 409 and "opt_out" in blocked.json()["type"]
    refused = c.post(_link(customer_id) + "/stop", data={"channel": "letter"})
    assert "failed=other" in refused.headers["location"]


def _collector_id(app: FastAPI) -> int:
    from overdue.store.tables import User

    with app.state.engine.begin() as conn:
        return int(conn.execute(sa.select(User.id).where(User.username == "collector")).scalar_one())


def test_contact_hours_must_lie_inside_the_allowed_hours(self_app: FastAPI) -> None:
    c = client(self_app)
    customer_id = _cases(self_app)[0][1]
    url = _link(customer_id)
    for start, end in (("07:00", "09:00"), ("09:00", "09:30"), ("12:00", "10:00")):
        answer = c.post(url + "/hours", data={"start": start, "end": end})
        assert "failed=hours" in answer.headers["location"], (start, end)
    answer = c.post(url + "/hours", data={"start": "09:00", "end": "12:30"})
    assert "done=hours" in answer.headers["location"]
    with self_app.state.engine.begin() as conn:
        window = conn.execute(
            sa.select(Customer.contact_window_start, Customer.contact_window_end).where(
                Customer.customer_id == customer_id
            )
        ).one()
    assert tuple(window) == (time(9, 0), time(12, 30))
    assert 'id="current-hours"' in c.get(url).text


def test_a_complaint_goes_into_the_register(self_app: FastAPI) -> None:
    c = client(self_app)
    customer_id = _cases(self_app)[0][1]
    answer = c.post(
        _link(customer_id) + "/complaint",
        data={"category": "too_many_contacts", "text": "three calls a day"},
    )
    assert "done=complaint" in answer.headers["location"]
    with self_app.state.engine.begin() as conn:
        complaint = conn.execute(
            sa.select(Complaint).where(Complaint.customer_id == customer_id)
        ).one()
    assert complaint.channel == "self_service" and complaint.category == "too_many_contacts"
    assert complaint.status == "open" and complaint.description == "three calls a day"


def test_actions_are_capped_per_day(self_app: FastAPI) -> None:
    c: TestClient = client(self_app)
    url = _link(_cases(self_app)[0][1])
    for _ in range(MAX_ACTIONS_PER_DAY):
        answer = c.post(url + "/hours", data={"start": "10:00", "end": "12:00"})
        assert "done=hours" in answer.headers["location"]
    over = c.post(url + "/hours", data={"start": "10:00", "end": "12:00"})
    assert "failed=limit" in over.headers["location"]


def test_the_demo_prints_a_link_that_opens_a_customers_page(
    self_app: FastAPI, store_url: str
) -> None:
    from overdue.commands.demo import self_service_path

    path = self_service_path(store_url, LINK_SECRET, AS_OF)
    assert path is not None and path.startswith("/self/")
    page = client(self_app).get(path)
    assert page.status_code == 200 and 'id="self-cases"' in page.text

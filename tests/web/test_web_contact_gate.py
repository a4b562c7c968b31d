"""People's contacts pass the compliance gate too: a collector's call logged in the workbench or
through the API is checked against quiet hours (the customer's own time zone), the customer's
flags and the daily caps counted over everything the store knows (calls people logged, robot
calls the dispatcher sent). A blocked contact is recorded as blocked with its rule and audited,
never as made; the case page says whether an agent may call now.

The real ``cn`` profile is used; the customer's time zone is chosen from the wall clock (a fixed
UTC offset that puts the customer well inside or well outside 22:00–08:00), so the test holds at
any hour."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_support import client, make_settings, sign_in

from overdue.store.tables import AuditEntry, Case, ContactAttempt, Customer, OutboxMessage
from overdue.web import create_app

CALL = {"channel": "voice_agent", "outcome": "no_answer", "connected": True, "right_party": True}


def zone_with_local_hour_in(hours: range) -> str:
    """A fixed-offset zone (Etc/GMT±N) whose local hour now is in ``hours``."""
    utc_hour = datetime.now(UTC).hour
    for offset in range(-12, 15):
        if (utc_hour + offset) % 24 in hours:
            # the Etc zones' signs are inverted: Etc/GMT-8 is UTC+8
            return "Etc/GMT" + (f"{-offset:+d}" if offset else "")
    raise AssertionError(f"no zone puts {utc_hour}:00 UTC into {hours}")


QUIET = range(0, 6)  # well inside 22:00–08:00 (an hour's margin on both sides)
OPEN = range(10, 19)


@pytest.fixture
def cn_app(store_url: str) -> Iterator[FastAPI]:
    application = create_app(make_settings(store_url, compliance_profile="cn"))
    yield application
    application.state.engine.dispose()


def _collector(app: FastAPI) -> tuple[TestClient, dict[str, str], int]:
    c = client(app)
    csrf = {"X-CSRF-Token": sign_in(c, "collector")}
    case_id = int(c.get("/api/v1/cases").json()["items"][0]["case_id"])
    return c, csrf, case_id


def _customer_of(app: FastAPI, case_id: int, **values: object) -> str:
    with app.state.engine.begin() as conn:
        customer_id = conn.execute(
            sa.select(Case.customer_id).where(Case.case_id == case_id)
        ).scalar_one()
        if values:
            conn.execute(
                sa.update(Customer).where(Customer.customer_id == customer_id).values(**values)
            )
    return str(customer_id)


def _attempts(app: FastAPI, case_id: int) -> list[tuple[str, str | None]]:
    with app.state.engine.connect() as conn:
        rows = conn.execute(
            sa.select(ContactAttempt.outcome, ContactAttempt.blocked_rule)
            .where(ContactAttempt.case_id == case_id)
            .order_by(ContactAttempt.id)
        )
        return [(r[0], r[1]) for r in rows]


def test_quiet_hours_block_a_call_and_keep_the_blocked_attempt(cn_app: FastAPI) -> None:
    c, csrf, case_id = _collector(cn_app)
    _customer_of(cn_app, case_id, time_zone=zone_with_local_hour_in(QUIET))
    answer = c.post(f"/api/v1/cases/{case_id}/outcomes", json=CALL, headers=csrf)
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith("contact-blocked/quiet_hours")
    assert _attempts(cn_app, case_id) == [("blocked", "quiet_hours")]
    with cn_app.state.engine.connect() as conn:
        audited = set(conn.execute(sa.select(AuditEntry.action)).scalars())
    assert "contact_blocked" in audited and "log_contact" not in audited

    _customer_of(cn_app, case_id, time_zone=zone_with_local_hour_in(OPEN))
    allowed = c.post(f"/api/v1/cases/{case_id}/outcomes", json=CALL, headers=csrf)
    assert allowed.status_code == 201, allowed.text


def test_the_daily_connected_cap_counts_logged_calls_and_sent_robot_calls(
    cn_app: FastAPI,
) -> None:
    c, csrf, case_id = _collector(cn_app)
    customer_id = _customer_of(cn_app, case_id, time_zone=zone_with_local_hour_in(OPEN))
    now = datetime.now(UTC)
    with cn_app.state.engine.begin() as conn:  # the dispatcher sent two robot calls today
        for i in range(2):
            conn.execute(
                sa.insert(OutboxMessage).values(
                    idempotency_key=f"{'ab' * 15}{i:02d}",
                    channel="voice_robot",
                    to_address="13800000000",
                    body="robot",
                    payload={},
                    status="sent",
                    attempts=1,
                    next_attempt_at=now,
                    sent_at=now,
                    created_at=now,
                    as_of=now.date(),
                    case_id=case_id,
                    customer_id=customer_id,
                    account_id="A-robot",
                )
            )
    first = c.post(f"/api/v1/cases/{case_id}/outcomes", json=CALL, headers=csrf)
    assert first.status_code == 201, first.text  # 2 robot calls + this one = the cap of 3
    fourth = c.post(f"/api/v1/cases/{case_id}/outcomes", json=CALL, headers=csrf)
    assert fourth.status_code == 409
    assert fourth.json()["type"].endswith("contact-blocked/daily_connected_cap")
    assert _attempts(cn_app, case_id) == [("no_answer", None), ("blocked", "daily_connected_cap")]


def test_a_disputed_debt_is_not_called_and_the_page_says_why(cn_app: FastAPI) -> None:
    c, csrf, case_id = _collector(cn_app)
    _customer_of(cn_app, case_id, time_zone=zone_with_local_hour_in(OPEN), dispute=True)
    page = c.get(f"/cases/{case_id}?lang=en&check=1").text
    assert 'id="call-now"' in page and "the debt is disputed" in page
    form = {"channel": "voice_agent", "outcome": "no_answer", "csrf_token": csrf["X-CSRF-Token"]}
    posted = c.post(f"/cases/{case_id}/outcome", data=form, follow_redirects=False)
    assert posted.status_code == 303 and "blocked=dispute" in posted.headers["location"]
    shown = c.get(posted.headers["location"] + "&lang=zh-CN").text
    assert 'id="contact-blocked"' in shown and "债务存在争议" in shown
    assert _attempts(cn_app, case_id) == [("blocked", "dispute")]


def test_the_case_page_says_a_call_is_allowed_in_working_hours(cn_app: FastAPI) -> None:
    c, _, case_id = _collector(cn_app)
    _customer_of(cn_app, case_id, time_zone=zone_with_local_hour_in(OPEN))
    plain = c.get(f"/cases/{case_id}?lang=en").text  # the check runs only when asked
    assert 'id="call-check"' in plain and 'id="call-now"' not in plain
    assert "An agent call is allowed now." in c.get(f"/cases/{case_id}?lang=en&check=1").text
    _customer_of(cn_app, case_id, time_zone=zone_with_local_hour_in(QUIET))
    page = c.get(f"/cases/{case_id}?lang=en&check=1").text
    assert "No agent call now:" in page and "quiet hours" in page


def test_an_agreed_contact_window_replaces_the_quiet_hours(cn_app: FastAPI) -> None:
    c, csrf, case_id = _collector(cn_app)
    zone = zone_with_local_hour_in(QUIET)  # night for the profile ...
    local_hour = (datetime.now(UTC).hour + _offset(zone)) % 24
    window = (time(local_hour), time((local_hour + 2) % 24))  # ... but the debtor agreed to it
    _customer_of(cn_app, case_id, time_zone=zone, contact_window_start=window[0],
                 contact_window_end=window[1])  # fmt: skip
    answer = c.post(f"/api/v1/cases/{case_id}/outcomes", json=CALL, headers=csrf)
    assert answer.status_code == 201, answer.text
    _customer_of(cn_app, case_id, time_zone=zone_with_local_hour_in(OPEN))  # outside the window
    refused = c.post(f"/api/v1/cases/{case_id}/outcomes", json=CALL, headers=csrf)
    assert refused.status_code == 409 and refused.json()["type"].endswith("quiet_hours")


def _offset(zone: str) -> int:
    """Hours east of UTC of an Etc/GMT±N zone (signs inverted in the name)."""
    return -int(zone[7:]) if len(zone) > 7 else 0

"""The REST API end to end on a real store: scoping, masking, writes, pagination, problem+json,
and the payments webhook's idempotency."""

from __future__ import annotations

import json

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_support import AS_OF, CASES, SECRET, client, sign_in

from overdue.store.tables import AuditEntry, Case, Customer, InboundEvent, Payment
from overdue.web.webhook import sign


def _signed_in(app: FastAPI, username: str) -> tuple[TestClient, dict[str, str]]:
    c = client(app)
    return c, {"X-CSRF-Token": sign_in(c, username)}


def _case_of(app: FastAPI, username: str) -> int:
    c, _ = _signed_in(app, username)
    return int(c.get("/api/v1/cases").json()["items"][0]["case_id"])


def test_a_collector_lists_only_their_cases_sorted_by_priority(app: FastAPI) -> None:
    c, _ = _signed_in(app, "collector")
    page = c.get("/api/v1/cases").json()
    assert page["total"] == CASES // 2 and len(page["items"]) == CASES // 2
    priorities = [row["priority_score"] for row in page["items"]]
    assert priorities == sorted(priorities, reverse=True)
    ids = {row["assigned_user_id"] for row in page["items"]}
    assert len(ids) == 1


def test_pagination_and_filters(app: FastAPI) -> None:
    c, _ = _signed_in(app, "manager")
    first = c.get("/api/v1/cases", params={"page_size": 5}).json()
    second = c.get("/api/v1/cases", params={"page_size": 5, "page": 2}).json()
    assert first["total"] == CASES and len(first["items"]) == 5
    assert not {r["case_id"] for r in first["items"]} & {r["case_id"] for r in second["items"]}
    bucket = first["items"][0]["bucket_cn"]
    only = c.get("/api/v1/cases", params={"bucket": bucket}).json()
    assert only["total"] >= 1 and all(r["bucket_cn"] == bucket for r in only["items"])
    bad = c.get("/api/v1/cases", params={"page_size": 100000})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "page_size" in bad.json()["detail"]


def test_another_collectors_case_is_403_and_a_missing_case_404(app: FastAPI) -> None:
    theirs = _case_of(app, "collector2")
    c, _ = _signed_in(app, "collector")
    refused = c.get(f"/api/v1/cases/{theirs}")
    assert refused.status_code == 403 and refused.json()["title"] == "Forbidden"
    assert c.get(f"/api/v1/cases/{theirs}/timeline").status_code == 403
    assert c.get("/api/v1/cases/999999").status_code == 404


def test_phone_and_id_number_are_masked_for_the_roles_that_do_not_need_them(app: FastAPI) -> None:
    case_id = _case_of(app, "collector")
    with app.state.engine.connect() as conn:
        customer_id = conn.execute(sa.select(Case.customer_id).where(Case.case_id == case_id)).scalar_one()
        phone, id_number = conn.execute(
            sa.select(Customer.phone, Customer.id_number).where(Customer.customer_id == customer_id)
        ).one()
    for role in ("manager", "analyst", "auditor", "collector"):
        c, _ = _signed_in(app, role)
        answer = c.get(f"/api/v1/cases/{case_id}")
        text = answer.text
        assert id_number not in text, role
        shown = answer.json()["customer"]["phone"]
        if role == "collector":  # their own case: they call the customer
            assert shown == phone
        else:
            assert phone not in text and shown == phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def test_writes_through_the_api_appear_on_the_timeline_and_are_audited(app: FastAPI) -> None:
    case_id = _case_of(app, "collector")
    c, csrf = _signed_in(app, "collector")
    base = f"/api/v1/cases/{case_id}"
    outcome = c.post(
        f"{base}/outcomes",
        json={"channel": "voice_agent", "outcome": "promise_to_pay", "connected": True, "right_party": True},
        headers=csrf,
    )
    assert outcome.status_code == 201, outcome.text
    promise = c.post(
        f"{base}/promises",
        json={"amount_fen": 50_000, "promised_date": AS_OF.replace(day=30).isoformat()},
        headers=csrf,
    )
    assert promise.status_code == 201, promise.text
    assert c.post(f"{base}/notes", json={"body": "called"}, headers=csrf).status_code == 201
    kinds = [e["kind"] for e in c.get(f"{base}/timeline").json()]
    assert {"contact", "promise", "note"} <= set(kinds)
    contacts = c.get(f"{base}/contacts").json()
    assert len(contacts) == 1 and "*" in contacts[0]["details"]["to_address"]
    with app.state.engine.connect() as conn:
        actions = set(conn.execute(sa.select(AuditEntry.action)).scalars())
    assert {"log_contact", "record_promise", "add_note"} <= actions


def test_bad_input_is_a_problem_naming_the_field(app: FastAPI) -> None:
    case_id = _case_of(app, "collector")
    c, csrf = _signed_in(app, "collector")
    past = c.post(
        f"/api/v1/cases/{case_id}/promises",
        json={"amount_fen": 100, "promised_date": "2020-01-01"},
        headers=csrf,
    )
    assert past.status_code == 422 and "promised_date" in past.json()["detail"]
    negative = c.post(
        f"/api/v1/cases/{case_id}/promises",
        json={"amount_fen": -5, "promised_date": AS_OF.isoformat()},
        headers=csrf,
    )
    assert negative.status_code == 422 and "amount_fen" in negative.json()["detail"]
    unknown = c.post(
        f"/api/v1/cases/{case_id}/outcomes",
        json={"channel": "pigeon", "outcome": "busy", "connected": False},
        headers=csrf,
    )
    assert unknown.status_code == 422 and "channel" in unknown.json()["detail"]


def test_read_only_roles_cannot_write(app: FastAPI) -> None:
    case_id = _case_of(app, "collector")
    c, csrf = _signed_in(app, "analyst")
    answer = c.post(f"/api/v1/cases/{case_id}/notes", json={"body": "x"}, headers=csrf)
    assert answer.status_code == 403 and "analyst" in answer.json()["detail"]


def test_users_are_for_admins(app: FastAPI) -> None:
    c, _ = _signed_in(app, "manager")
    assert c.get("/api/v1/users").status_code == 403
    admin, admin_csrf = _signed_in(app, "admin")
    users = admin.get("/api/v1/users").json()
    assert {u["username"] for u in users} >= {"admin", "collector", "collector2"}
    assert all("password" not in json.dumps(u) for u in users)
    created = admin.post(
        "/api/v1/users",
        json={"username": "newbie", "display_name": "New", "role": "collector", "password": "longenough"},
        headers=admin_csrf,
    )
    assert created.status_code == 201
    again = admin.post(
        "/api/v1/users",
        json={"username": "newbie", "display_name": "New", "role": "collector", "password": "longenough"},
        headers=admin_csrf,
    )
    assert again.status_code == 409
    patched = admin.patch(
        f"/api/v1/users/{created.json()['id']}", json={"capacity": 120}, headers=admin_csrf
    )
    assert patched.status_code == 200 and patched.json()["changed"] == ["capacity"]
    sign_in(client(app), "newbie", "longenough")


def _deliver(app: FastAPI, payload: dict[str, object]) -> tuple[int, dict[str, object]]:
    body = json.dumps(payload).encode()
    answer = client(app).post(
        "/api/v1/webhooks/payments", content=body, headers={"X-Signature": sign(SECRET, body)}
    )
    return answer.status_code, answer.json()


def test_the_same_payment_twice_is_applied_once(app: FastAPI) -> None:
    payment = {"payment_id": "PAY-1", "account_id": "BA0070000000001", "amount_fen": 12_345,
               "value_date": AS_OF.isoformat()}  # fmt: skip
    first = _deliver(app, payment)
    second = _deliver(app, payment)
    assert first == (201, {"payment_id": "PAY-1", "status": "applied"})
    assert second == (200, {"payment_id": "PAY-1", "status": "duplicate"})
    with app.state.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Payment)).scalar_one() == 1
        events = conn.execute(sa.select(InboundEvent.processed_at)).scalars().all()
    assert len(events) == 1 and events[0] is not None


def test_a_signed_but_invalid_payment_is_a_clear_422(app: FastAPI) -> None:
    status, body = _deliver(app, {"payment_id": "PAY-2", "account_id": "A", "amount_fen": 0,
                                  "value_date": "2024-06-31"})  # fmt: skip
    assert status == 422
    assert "amount_fen" in str(body["detail"]) and "value_date" in str(body["detail"])


def test_the_customer_view_shows_every_account_and_contact_scoped(app: FastAPI) -> None:
    case_id = _case_of(app, "collector")
    c, csrf = _signed_in(app, "collector")
    customer_id = c.get(f"/api/v1/cases/{case_id}").json()["customer"]["customer_id"]
    c.post(
        f"/api/v1/cases/{case_id}/outcomes",
        json={"outcome": "no_answer", "connected": False},
        headers=csrf,
    )
    view = c.get(f"/api/v1/customers/{customer_id}").json()
    assert [k["case_id"] for k in view["cases"]] == [case_id]
    assert len(view["contacts"]) == 1 and view["total_overdue_fen"] > 0
    page = c.get(f"/customers/{customer_id}")
    assert page.status_code == 200 and f"/cases/{case_id}" in page.text
    other = _case_of(app, "collector2")
    with app.state.engine.connect() as conn:
        theirs = conn.execute(sa.select(Case.customer_id).where(Case.case_id == other)).scalar_one()
    assert c.get(f"/api/v1/customers/{theirs}").status_code == 403
    assert c.get(f"/customers/{theirs}").status_code == 403

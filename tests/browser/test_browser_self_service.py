"""Real Chromium on a phone-sized screen: a customer opens the link from a reminder, reads what
they owe in their language, switches language (every visible string changes), promises to pay
through the form and stops SMS; both land in the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from browser_support import AS_OF, NEUTRAL, VISIBLE_TEXT_JS, Server

from overdue.cases.self_service_links import issue_token
from overdue.store.tables import Case, ChannelPreference, Customer, Promise
from overdue.web.settings import DEV_LINK_SECRET

PHONE = {"width": 390, "height": 844}


def _first_case(server: Server) -> tuple[int, str]:
    row = server.query(sa.select(Case.case_id, Case.customer_id).order_by(Case.case_id).limit(1))[0]
    return int(row[0]), str(row[1])


def _link(server: Server, customer_id: str) -> str:
    return f"{server.base_url}/self/{issue_token(DEV_LINK_SECRET, customer_id, as_of=AS_OF)}"


def test_a_customer_promises_to_pay_and_stops_sms(server: Server, page: Any) -> None:
    case_id, customer_id = _first_case(server)
    language = server.query(
        sa.select(Customer.language).where(Customer.customer_id == customer_id)
    )[0][0]
    page.set_viewport_size(PHONE)
    page.goto(_link(server, customer_id))
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator(f'#self-cases tr[data-case="{case_id}"]').count() == 1
    page.fill("#promise-amount", "88.80")
    page.fill("#promise-date", (AS_OF + timedelta(days=7)).isoformat())
    with page.expect_navigation():
        page.click("#promise-submit")
    page.wait_for_selector("#flash")
    assert page.locator(".promise").count() == 1
    with page.expect_navigation():
        page.click("#stop-sms")
    page.wait_for_selector("#stopped-sms")
    promises = server.query(sa.select(Promise.amount_fen).where(Promise.case_id == case_id))
    stopped = server.query(
        sa.select(ChannelPreference.channel).where(
            ChannelPreference.customer_id == customer_id, ChannelPreference.opted_out.is_(True)
        )
    )
    assert [p[0] for p in promises] == [8880] and [s[0] for s in stopped] == ["sms"]


def test_the_language_switch_changes_every_visible_string(server: Server, page: Any) -> None:
    _, customer_id = _first_case(server)
    page.goto(_link(server, customer_id) + "?lang=en")
    english = list(page.evaluate(VISIBLE_TEXT_JS))
    with page.expect_navigation():
        page.click("#lang-zh-CN")
    chinese = list(page.evaluate(VISIBLE_TEXT_JS))
    assert len(english) == len(chinese) > 30
    same = [e for e, z in zip(english, chinese, strict=True) if e == z and not NEUTRAL.match(e)]
    assert not same, f"not translated: {same}"

"""Real Chromium against the real server: the dashboard's charts are drawn, a collector records a
promise and sees it on the timeline, another collector's case is refused, masked numbers are
masked in the page source, and the language switch changes every visible string."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from browser_support import AS_OF, NEUTRAL, VISIBLE_TEXT_JS, Server, sign_in

from overdue.store.tables import Case, Customer


def _cases_of(server: Server, username: str) -> list[int]:
    rows = server.query(
        sa.select(Case.case_id).where(Case.assigned_user_id == server.user_ids[username])
    )
    return [int(r[0]) for r in rows]


def _customer(server: Server, case_id: int) -> tuple[str, str]:
    rows = server.query(
        sa.select(Customer.phone, Customer.id_number)
        .join(Case, Case.customer_id == Customer.customer_id)
        .where(Case.case_id == case_id)
    )
    return str(rows[0][0]), str(rows[0][1])


def test_the_manager_sees_the_dashboard_charts_drawn(server: Server, page: Any) -> None:
    sign_in(page, server.base_url, "manager")
    page.goto(f"{server.base_url}/dashboard")
    page.wait_for_selector("#chart-open-buckets .main-svg", state="attached")
    page.wait_for_selector("#chart-performance .main-svg", state="attached")
    assert page.locator(".main-svg").count() >= 2
    assert page.locator("#chart-open-buckets .bars path").count() >= 1, "the bars are drawn"


def test_a_collector_records_a_promise_and_sees_it_on_the_timeline(server: Server, page: Any) -> None:
    sign_in(page, server.base_url, "collector")
    page.goto(f"{server.base_url}/queue")
    with page.expect_navigation():
        page.locator("#queue .case-link").first.click()
    page.wait_for_selector("#promise-form")
    case_id = int(page.url.rstrip("/").split("/")[-1].split("?")[0])
    assert case_id in _cases_of(server, "collector")
    page.keyboard.press("p")  # the shortcut focuses the amount
    page.keyboard.type("321.50")
    page.fill("#promise_date", (AS_OF + timedelta(days=5)).isoformat())
    with page.expect_navigation():
        page.click("#promise-submit")
    page.wait_for_selector("#flash")
    row = page.locator("#timeline tr.timeline-promise").first
    assert "321.50" in row.inner_text()
    assert "Jul 5, 2024" in row.inner_text()


def test_a_collector_is_refused_another_collectors_case(server: Server, page: Any) -> None:
    sign_in(page, server.base_url, "collector")
    theirs = _cases_of(server, "collector2")[0]
    response = page.goto(f"{server.base_url}/cases/{theirs}")
    assert response is not None and response.status == 403
    assert page.inner_text("#error-title") == "Not allowed"
    phone, _ = _customer(server, theirs)
    assert phone not in page.content()


def test_masked_numbers_are_masked_in_the_page_source(server: Server, page: Any) -> None:
    case_id = _cases_of(server, "collector")[0]
    phone, id_number = _customer(server, case_id)
    sign_in(page, server.base_url, "manager")
    page.goto(f"{server.base_url}/cases/{case_id}")
    source = page.content()
    assert phone not in source and id_number not in source
    masked = phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    assert page.inner_text("#customer-phone") == masked
    assert page.inner_text("#customer-id-number").count("*") >= len(id_number) - 7
    page.context.clear_cookies()
    sign_in(page, server.base_url, "collector")
    page.goto(f"{server.base_url}/cases/{case_id}")
    assert id_number not in page.content(), "a collector never sees the ID number"


def _texts(page: Any, url: str) -> list[str]:
    page.goto(url)
    page.wait_for_load_state("load")
    return list(page.evaluate(VISIBLE_TEXT_JS))


def test_the_language_switch_changes_every_visible_string(server: Server, page: Any) -> None:
    case_id = _cases_of(server, "collector")[0]
    sign_in(page, server.base_url, "collector")
    for path in ("/queue", f"/cases/{case_id}"):
        english = _texts(page, f"{server.base_url}{path}?lang=en")
        with page.expect_navigation():
            page.click("#lang-zh-CN")
        chinese = list(page.evaluate(VISIBLE_TEXT_JS))
        assert len(english) == len(chinese) > 40, path
        same = [e for e, z in zip(english, chinese, strict=True) if e == z and not NEUTRAL.match(e)]
        assert not same, f"{path}: not translated: {same}"
        page.goto(f"{server.base_url}{path}?lang=en")
    page.context.clear_cookies()
    sign_in(page, server.base_url, "manager")
    english = _texts(page, f"{server.base_url}/dashboard?lang=en")
    chinese = _texts(page, f"{server.base_url}/dashboard?lang=zh-CN")
    assert len(english) == len(chinese) > 30
    same = [e for e, z in zip(english, chinese, strict=True) if e == z and not NEUTRAL.match(e)]
    assert not same, f"dashboard: not translated: {same}"

"""Self-service links: a token opens exactly its customer's page until its last valid day, and
any change to it (one character, another secret, a later date) makes it invalid."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from overdue.cases.self_service_links import (
    MAX_VALID_DAYS,
    LinkInvalid,
    issue_token,
    read_token,
)

SECRET = "s3cret"
customer_ids = st.text(
    st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20
).filter(lambda text: len(text.encode("utf-8")) <= 64)
days = st.dates(date(2000, 1, 1), date(2090, 1, 1))


@given(customer_ids, days, st.integers(1, MAX_VALID_DAYS))
def test_a_token_opens_its_customers_page_through_its_last_day(
    customer_id: str, as_of: date, valid_days: int
) -> None:
    token = issue_token(SECRET, customer_id, as_of=as_of, valid_days=valid_days)
    last = as_of + timedelta(days=valid_days)
    for day in (as_of, last):
        link = read_token(SECRET, token, as_of=day)
        assert link.customer_id == customer_id and link.valid_until == last
    with pytest.raises(LinkInvalid, match="expired"):
        read_token(SECRET, token, as_of=last + timedelta(days=1))
    with pytest.raises(LinkInvalid):
        read_token("another secret", token, as_of=as_of)


@given(customer_ids, days, st.data())
def test_any_changed_character_makes_the_token_invalid(
    customer_id: str, as_of: date, data: st.DataObject
) -> None:
    token = issue_token(SECRET, customer_id, as_of=as_of)
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AZaz09-_.x").filter(lambda ch: ch != token[position]))
    changed = token[:position] + replacement + token[position + 1 :]
    try:
        link = read_token(SECRET, changed, as_of=as_of)
    except LinkInvalid:
        return
    # base64 padding bits: a change that decodes to the very same token content is harmless
    assert link.customer_id == customer_id
    assert issue_token(SECRET, link.customer_id, as_of=as_of) == token


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "x" * 400, "Yg.2024013.sig", "!!.20240101.s"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(LinkInvalid):
        read_token(SECRET, token, as_of=date(2024, 1, 1))


def test_issuing_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="valid_days"):
        issue_token(SECRET, "C1", as_of=date(2024, 1, 1), valid_days=MAX_VALID_DAYS + 1)
    with pytest.raises(ValueError, match="customer_id"):
        issue_token(SECRET, "", as_of=date(2024, 1, 1))

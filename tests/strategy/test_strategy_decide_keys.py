"""Differential test: the decisions' batch contact ids equal the one definition, contact_key."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.contact.keys import contact_key
from overdue.strategy.decide import contact_ids

TEXT = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    accounts=st.lists(TEXT, max_size=20),
    step_id=TEXT,
    channel=st.sampled_from(["sms", "push", "voice_robot", "voice_agent", "email", "letter"]),
)
def test_batch_ids_equal_contact_key(
    day: date, accounts: list[str], step_id: str, channel: str
) -> None:
    ids = contact_ids(day, pa.array(accounts, pa.string()), step_id, channel)
    assert ids == [contact_key(day, a, step_id, channel) for a in accounts]


def test_a_bar_in_an_id_is_refused_as_by_contact_key() -> None:
    with pytest.raises(ValueError, match="account_id"):
        contact_ids(date(2024, 7, 1), pa.array(["A1", "A|2"]), "s1", "sms")
    with pytest.raises(ValueError, match="step_id"):
        contact_ids(date(2024, 7, 1), pa.array(["A1"]), "s|1", "sms")

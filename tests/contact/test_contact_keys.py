"""The idempotency key: format, determinism, and the same definition wherever it is computed."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.contact.keys import contact_key, is_key, key_from_message_id, message_id
from overdue.strategy.decide import contact_id

IDS = st.text(st.characters(blacklist_characters="|", blacklist_categories=("Cs",)), min_size=1,
              max_size=20)
CHANNELS = st.sampled_from(["push", "sms", "email", "voice_robot", "letter", "agency"])
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@settings(deadline=None)  # shared, loaded machines: no per-example time limit
@given(DAYS, IDS, IDS, CHANNELS)
def test_key_is_32_hex_deterministic_and_travels_in_the_message_id(
    as_of: date, account_id: str, step_id: str, channel: str
) -> None:
    key = contact_key(as_of, account_id, step_id, channel)
    assert is_key(key) and key == contact_key(as_of.isoformat(), account_id, step_id, channel)
    assert key_from_message_id(message_id(key)) == key


@settings(deadline=None)  # shared, loaded machines: no per-example time limit
@given(DAYS, IDS, IDS, CHANNELS, CHANNELS)
def test_another_channel_is_another_contact(
    as_of: date, account_id: str, step_id: str, one: str, other: str
) -> None:
    same = contact_key(as_of, account_id, step_id, one) == contact_key(as_of, account_id, step_id, other)
    assert same == (one == other)


@settings(deadline=None)  # shared, loaded machines: no per-example time limit
@given(DAYS, IDS, IDS, CHANNELS)
def test_the_decisions_contact_id_is_the_outbox_key(
    as_of: date, account_id: str, step_id: str, channel: str
) -> None:
    assert contact_id(as_of, account_id, step_id, channel) == contact_key(
        as_of, account_id, step_id, channel)

"""The channels through which the lender reaches a customer (one list for the whole project)."""

from __future__ import annotations

from typing import Final

CHANNELS: Final[tuple[str, ...]] = (
    "push",
    "sms",
    "email",
    "voice_robot",
    "voice_agent",
    "letter",
    "field_visit",
    "agency",
    "legal",
)

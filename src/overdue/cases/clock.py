"""The one place the case services read the wall clock: instants of human actions (audit, notes).

Business dates (``as_of``) are always passed in; every service taking ``at`` uses it when given,
so tests and replays are deterministic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time


def utc_now() -> datetime:
    return datetime.now(UTC)


def instant(at: datetime | None) -> datetime:
    """``at`` (must be timezone-aware) or now."""
    if at is None:
        return utc_now()
    if at.tzinfo is None:
        raise ValueError(f"at: {at!r} must be timezone-aware")
    return at


def start_of(as_of: date) -> datetime:
    """Midnight UTC of a business date: the instant recorded for batch decisions of that day."""
    return datetime.combine(as_of, time(), UTC)

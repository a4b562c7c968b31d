"""The one place the case services read the wall clock: instants of human actions (audit, notes).

Business dates (``as_of``) are always passed in; every service taking ``at`` uses it when given,
so tests and replays are deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def instant(at: datetime | None) -> datetime:
    """``at`` (must be timezone-aware) or now."""
    if at is None:
        return utc_now()
    if at.tzinfo is None:
        raise ValueError(f"at: {at!r} must be timezone-aware")
    return at

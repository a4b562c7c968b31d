"""A debtor who agreed to another contact window (domain.md §4: "unless the debtor agreed to
another window") is contacted inside it and not outside it; everyone else keeps the profile's
quiet hours. The window comes with the flags (minutes of the local day, start inclusive, end
exclusive, wrapping past midnight when start > end)."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from test_compliance_gate_rules import CN, row, rules


def flags(start: int | None, end: int | None, customer: str = "C1") -> pa.Table:
    return pa.table(
        {
            "customer_id": [customer],
            "contact_window_start_minute": pa.array([start], pa.int64()),
            "contact_window_end_minute": pa.array([end], pa.int64()),
        }
    )


def test_an_agreed_late_window_replaces_the_quiet_hours() -> None:
    late = flags(21 * 60, 23 * 60)  # the debtor works days and asked for calls 21:00-23:00
    planned = [row(22, 30), row(10, 0, day=4), row(23, 0, day=5), row(22, 30, customer="C2")]
    assert rules(planned, CN, flags=late) == ["", "quiet_hours", "quiet_hours", "quiet_hours"]


def test_a_window_across_midnight_and_no_window() -> None:
    night = flags(23 * 60, 1 * 60)
    assert rules([row(23, 30), row(0, 30, day=4), row(1, 0, day=5)], CN, flags=night) == [
        "",
        "",
        "quiet_hours",
    ]
    assert rules([row(23, 30)], CN, flags=flags(None, None)) == ["quiet_hours"]


@settings(max_examples=150, deadline=None)
@given(
    start=st.integers(0, 1439),
    length=st.integers(1, 1439),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_inside_the_window_allowed_outside_blocked(
    start: int, length: int, hour: int, minute: int
) -> None:
    end = (start + length) % 1440
    at = hour * 60 + minute
    inside = (at - start) % 1440 < length
    got = rules([row(hour, minute, tone="friendly")], CN, flags=flags(start, end))
    assert got == (["" if inside else "quiet_hours"])

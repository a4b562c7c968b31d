"""Delinquency buckets, Chinese M-buckets and US cycle buckets (domain.md §2).

The two schemes are offset by one day on purpose: M1 starts at 1 DPD, the US ``30`` bucket at 30.
The off-by-one is real and must not be "fixed". Both top buckets are open-ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

Scheme = Literal["cn", "us"]

CN_BUCKETS: Final = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7")
US_BUCKETS: Final = ("current", "30", "60", "90", "120", "150", "180+")


def bucket_cn_for_dpd(dpd: int) -> str:
    """M0 for 0, M1 for 1–30, M2 31–60 … M6 151–180, M7 above 180 (open top)."""
    assert dpd >= 0, f"DPD cannot be negative: {dpd}"
    if dpd == 0:
        return "M0"
    return CN_BUCKETS[min(7, (dpd - 1) // 30 + 1)]


def bucket_us_for_dpd(dpd: int) -> str:
    """current for 0–29, 30 for 30–59 … 150 for 150–179, 180+ from 180 (open top)."""
    assert dpd >= 0, f"DPD cannot be negative: {dpd}"
    return US_BUCKETS[min(6, dpd // 30)]


def bucket_cn(dpd: int, status: str) -> str:
    """The CN bucket of an account: M0 unless the status is overdue or charged off."""
    if dpd == 0 or status not in ("overdue", "charged_off"):
        return "M0"
    return bucket_cn_for_dpd(dpd)


@dataclass(frozen=True)
class BucketTransition:
    """One change of bucket at the end of business day ``on``."""

    on: date
    scheme: Scheme
    from_bucket: str
    to_bucket: str
    dpd: int

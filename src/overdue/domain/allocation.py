"""Allocation of one amount over the components of items, in a policy order (domain.md §2 step 2).

Pure arithmetic on plain mappings, so that the per-account engine and the batch share one rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from overdue.domain.money import ZERO
from overdue.domain.policy import Component


def allocate(
    amount: Decimal,
    owed_by_item: Sequence[Mapping[Component, Decimal]],
    order: Sequence[Component],
) -> tuple[list[dict[Component, Decimal]], Decimal]:
    """Split ``amount`` over items (already in priority order), each item in component ``order``.

    Returns the part taken from each item's components, and what is left over. Every item is
    paid in full before the next one gets anything. Invariant: parts + leftover == amount.
    """
    assert amount >= 0, f"cannot allocate a negative amount: {amount}"
    remaining = amount
    parts: list[dict[Component, Decimal]] = []
    for owed in owed_by_item:
        taken: dict[Component, Decimal] = {}
        for component in order:
            due = owed.get(component, ZERO)
            assert due >= 0, f"owed {component} is negative: {due}"
            take = min(remaining, due)
            if take > 0:
                taken[component] = take
                remaining -= take
        parts.append(taken)
    total_taken = sum((sum(p.values(), ZERO) for p in parts), ZERO)
    assert total_taken + remaining == amount, "allocation must sum to the payment"
    return parts, remaining

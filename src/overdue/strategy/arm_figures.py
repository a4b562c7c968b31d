"""Per-arm figures of a strategy run, flattened for a table (the demo's report and dashboard).

The input is what ``overdue.strategy.simulate.demo_strategies`` returns (and writes as JSON):
``{"strategies": {label: {"name", "arms": {arm: {customers, contacts, blocked_by_rule,
promises, recovered_fen, complaints}}}}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ArmFigures:
    """One arm of one strategy: what it did and what came back."""

    strategy: str
    arm: str
    customers: int
    contacts: int
    blocked: int
    promises: int
    recovered_fen: int
    complaints: int


def arm_rows(result: Mapping[str, Any]) -> tuple[list[ArmFigures], dict[str, int]]:
    """One row per strategy arm, and the blocked attempts of all arms by rule."""
    rows: list[ArmFigures] = []
    blocked: dict[str, int] = {}
    for label, data in result.get("strategies", {}).items():
        for arm, figures in data["arms"].items():
            arm_blocked = {rule: int(n) for rule, n in figures.get("blocked_by_rule", {}).items()}
            rows.append(
                ArmFigures(
                    strategy=f"{label}: {data['name']}",
                    arm=arm,
                    customers=int(figures["customers"]),
                    contacts=int(figures["contacts"]),
                    blocked=sum(arm_blocked.values()),
                    promises=int(figures["promises"]),
                    recovered_fen=int(figures["recovered_fen"]),
                    complaints=int(figures["complaints"]),
                )
            )
            for rule, count in arm_blocked.items():
                blocked[rule] = blocked.get(rule, 0) + count
    assert all(r.blocked >= 0 and r.contacts >= 0 for r in rows)
    return rows, blocked

"""Wording checks on templates (first version: a placeholder; the lexicon comes next)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from overdue.strategy.spec import StrategySpec


def check_spec_templates(spec: StrategySpec) -> Sequence[str]:
    """Problems with the templates a spec names (none checked yet in this first version)."""
    del spec
    return []

"""How customers of each latent type pay, month by month, and what moves them.

Each month every account with something due (a new bill or installment, or arrears) takes one
action. Not in arrears: pay on time in full, pay the minimum (revolving lines), pay in full a few
days late, pay part, or miss. In arrears: cure (pay everything overdue), hold (pay the oldest
overdue item only), pay part, or miss. The shares depend on the latent type (``TypeHabits``), and
hardship raises misses, partial and late payments: the Spring Festival month, a due day before
month-end pay day, and the macro scenario (``Scenario``). ``unwilling`` customers pay like reliable
ones until a month on book drawn from a monthly stop hazard, then almost never pay; ``fraud``
never pays.

These are the parameters the calibration tunes (the type mix and the monthly habits), never
individual roll-rate cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from overdue.twin.customers import LatentType, TypeMix

FloatArray = npt.NDArray[np.float64]


class Action(IntEnum):
    MISS = 0
    ON_TIME = 1
    MINIMUM = 2
    LATE = 3
    PARTIAL = 4
    CURE = 5
    HOLD = 6


CURRENT_ACTIONS: Final = (Action.MISS, Action.ON_TIME, Action.MINIMUM, Action.LATE, Action.PARTIAL)
ARREARS_ACTIONS: Final = (Action.MISS, Action.CURE, Action.HOLD, Action.PARTIAL)
MAX_LATE_DAYS: Final = 18  # late payments stay before the account's next cycle
MAX_ARREARS_WEIGHT: Final = 3


@dataclass(frozen=True)
class TypeHabits:
    """Monthly shares of actions for one latent type (each group is renormalised)."""

    on_time: float
    minimum: float
    late: float
    partial: float
    miss: float
    cure: float
    hold: float
    arrears_partial: float
    arrears_miss: float
    late_days_mean: float
    early_days_max: int
    hardship_sensitivity: float
    bounce_share: float  # share of payment attempts that bounce (reversed)

    def current_weights(self) -> FloatArray:
        return np.array([self.miss, self.on_time, self.minimum, self.late, self.partial])

    def arrears_weights(self) -> FloatArray:
        return np.array([self.arrears_miss, self.cure, self.hold, self.arrears_partial])


def _default_habits() -> dict[LatentType, TypeHabits]:
    return {
        LatentType.RELIABLE: TypeHabits(
            on_time=0.91, minimum=0.07, late=0.015, partial=0.0, miss=0.005,
            cure=0.85, hold=0.10, arrears_partial=0.02, arrears_miss=0.03,
            late_days_mean=2.0, early_days_max=5, hardship_sensitivity=0.3, bounce_share=0.002,
        ),
        LatentType.FORGETFUL: TypeHabits(
            on_time=0.70, minimum=0.03, late=0.24, partial=0.0, miss=0.03,
            cure=0.88, hold=0.06, arrears_partial=0.02, arrears_miss=0.04,
            late_days_mean=3.5, early_days_max=1, hardship_sensitivity=0.6, bounce_share=0.004,
        ),
        LatentType.SHORT_OF_MONEY: TypeHabits(
            on_time=0.30, minimum=0.25, late=0.10, partial=0.10, miss=0.28,
            cure=0.50, hold=0.42, arrears_partial=0.05, arrears_miss=0.03,
            late_days_mean=6.0, early_days_max=2, hardship_sensitivity=1.0, bounce_share=0.02,
        ),
        LatentType.UNWILLING: TypeHabits(
            on_time=0.86, minimum=0.07, late=0.04, partial=0.01, miss=0.02,
            cure=0.50, hold=0.20, arrears_partial=0.10, arrears_miss=0.20,
            late_days_mean=3.0, early_days_max=3, hardship_sensitivity=0.5, bounce_share=0.01,
        ),
        LatentType.FRAUD: TypeHabits(
            on_time=0.0, minimum=0.0, late=0.0, partial=0.0, miss=1.0,
            cure=0.0, hold=0.0, arrears_partial=0.0, arrears_miss=1.0,
            late_days_mean=1.0, early_days_max=0, hardship_sensitivity=0.0, bounce_share=0.0,
        ),
    }  # fmt: skip


STOPPED: Final = TypeHabits(
    on_time=0.0, minimum=0.0, late=0.0, partial=0.04, miss=0.96,
    cure=0.06, hold=0.08, arrears_partial=0.08, arrears_miss=0.78,
    late_days_mean=5.0, early_days_max=0, hardship_sensitivity=0.0, bounce_share=0.02,
)  # fmt: skip


@dataclass(frozen=True)
class Behaviour:
    """Everything the calibration may tune: the type mix and each type's monthly habits."""

    mix: TypeMix = field(default_factory=TypeMix)
    habits: dict[LatentType, TypeHabits] = field(default_factory=_default_habits)
    stopped: TypeHabits = STOPPED
    unwilling_stop_hazard: float = 0.07  # per month on book
    festival_hardship: float = 1.3  # money is tight in the Spring Festival month …
    festival_forgetting: float = 1.8  # … and bills are forgotten while people travel
    cure_decay: float = 0.6  # per further item in arrears
    backdated_share: float = 0.03
    overpay_share: float = 0.05  # full payments rounded up to the next yuan
    waiver_share: float = 0.06  # cures that get a goodwill penalty waiver first
    repay_after_bounce: float = 0.6

    def with_habits(self, kind: LatentType, **changes: float) -> Behaviour:
        habits = dict(self.habits)
        habits[kind] = replace(habits[kind], **changes)  # type: ignore[arg-type]
        return replace(self, habits=habits)


@dataclass(frozen=True)
class Scenario:
    """The macro scenario: hardship ramps up to ``peak`` over ``ramp_months``."""

    name: str
    peak: float = 1.0
    ramp_months: int = 1
    stop_hazard_multiplier: float = 1.0
    spend_multiplier: float = 1.0

    def hardship(self, month: int) -> float:
        """Macro hardship in month ``month`` of the window (0-based)."""
        progress = min(1.0, (month + 1) / max(1, self.ramp_months))
        return 1.0 + (self.peak - 1.0) * progress


SCENARIOS: Final = {
    "baseline": Scenario("baseline"),
    "downturn": Scenario(
        "downturn", peak=1.9, ramp_months=4, stop_hazard_multiplier=2.0, spend_multiplier=0.9
    ),
}


def _table(habits: list[TypeHabits], arrears: bool) -> FloatArray:
    rows = [h.arrears_weights() if arrears else h.current_weights() for h in habits]
    return np.array(rows, dtype=np.float64)


@dataclass(frozen=True)
class HabitTables:
    """Habits as arrays indexed by habit row: the five types, then ``stopped`` (row 5)."""

    current: FloatArray
    arrears: FloatArray
    sensitivity: FloatArray
    late_days_mean: FloatArray
    early_days_max: npt.NDArray[np.int64]
    bounce_share: FloatArray

    @staticmethod
    def of(behaviour: Behaviour) -> HabitTables:
        rows = [behaviour.habits[t] for t in LatentType] + [behaviour.stopped]
        return HabitTables(
            current=_table(rows, arrears=False),
            arrears=_table(rows, arrears=True),
            sensitivity=np.array([h.hardship_sensitivity for h in rows]),
            late_days_mean=np.array([h.late_days_mean for h in rows]),
            early_days_max=np.array([h.early_days_max for h in rows], dtype=np.int64),
            bounce_share=np.array([h.bounce_share for h in rows]),
        )


STOPPED_ROW: Final = len(LatentType)


def choose_actions(
    tables: HabitTables,
    habit_row: npt.NDArray[np.int64],
    arrears_count: npt.NDArray[np.int64],
    revolving: npt.NDArray[np.bool_],
    hardship: FloatArray,
    uniform: FloatArray,
    cure_decay: float = 1.0,
    forgetting: float = 1.0,
) -> npt.NDArray[np.int8]:
    """One action per account from its habits, arrears, product and hardship (≥ 0, 1 = none).

    ``forgetting`` multiplies the late and missed shares of accounts not in arrears (the Spring
    Festival: travel and family, bills forgotten).

    Hardship weighs more the further behind an account is (up to ``MAX_ARREARS_WEIGHT`` items):
    in a hard month, catching up on three missed bills is harder than on one. Each further item
    behind also multiplies the chance to cure at once by ``cure_decay``.
    """
    in_arrears = arrears_count > 0
    depth = np.clip(arrears_count, 1, MAX_ARREARS_WEIGHT)
    excess = tables.sensitivity[habit_row] * (hardship - 1.0)
    scale = np.maximum(1.0 + excess, 0.05)
    deep_scale = np.maximum(1.0 + excess * depth, 0.05)
    current = tables.current[habit_row].copy()
    # Installments have no minimum: those who would pay the minimum pay on time.
    current[:, 1] += np.where(revolving, 0.0, current[:, 2])
    current[:, 2] = np.where(revolving, current[:, 2], 0.0)
    current[:, [0, 3, 4]] *= scale[:, None]
    current[:, [0, 3]] *= forgetting
    arrears = tables.arrears[habit_row].copy()
    arrears[:, [0, 3]] *= deep_scale[:, None]
    arrears[:, [1, 2]] /= deep_scale[:, None]
    arrears[:, 1] *= cure_decay ** (depth - 1)
    current_pick = _pick(current, uniform)
    arrears_pick = _pick(arrears, uniform)
    current_codes = np.array([int(a) for a in CURRENT_ACTIONS], dtype=np.int8)
    arrears_codes = np.array([int(a) for a in ARREARS_ACTIONS], dtype=np.int8)
    return np.where(in_arrears, arrears_codes[arrears_pick], current_codes[current_pick])


def _pick(weights: FloatArray, uniform: FloatArray) -> npt.NDArray[np.int64]:
    cumulative = np.cumsum(weights, axis=1)
    total = cumulative[:, -1:]
    assert np.all(total > 0), "every habit row needs a positive weight"
    chosen = (uniform[:, None] * total > cumulative).sum(axis=1)
    return np.minimum(chosen, weights.shape[1] - 1).astype(np.int64)

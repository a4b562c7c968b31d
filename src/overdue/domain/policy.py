"""The overdue policy: every number of domain.md §2 that is a setting, not a law.

This module holds the resolved, validated policy as immutable data. Reading it from TOML (with
errors that name the file and key) is done outside the domain, in ``overdue.config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Final, Literal

Component = Literal["fee", "penalty", "interest", "principal"]
COMPONENTS: Final[tuple[Component, ...]] = ("fee", "penalty", "interest", "principal")
DEFAULT_ALLOCATION_ORDER: Final[tuple[Component, ...]] = COMPONENTS

REVOLVING_DEFAULT_PENALTY_RATE: Final = Decimal("0.0005")
DEFAULT_PENALTY_MULTIPLIER: Final = Decimal("1.5")
DEFAULT_WRITE_OFF_DPD: Final = {"revolving": 180, "installment": 120}


class Product(Enum):
    REVOLVING = "revolving"
    INSTALLMENT = "installment"


class PenaltyBase(Enum):
    PRINCIPAL = "principal"
    PRINCIPAL_AND_INTEREST = "principal_and_interest"


class PolicyError(ValueError):
    """A policy value that breaks a rule; ``key`` names the offending setting."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(f"{key} = {value!r}: {reason}")
        self.key = key
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class Policy:
    """A resolved policy. Build it with :func:`resolve_policy` so that defaults apply."""

    product: Product
    penalty_daily_rate: Decimal
    grace_days: int = 0
    tolerance: Decimal = Decimal("0.00")
    penalty_base: PenaltyBase = PenaltyBase.PRINCIPAL
    allocation_order: tuple[Component, ...] = DEFAULT_ALLOCATION_ORDER
    write_off_dpd: int = 180
    accrue_after_write_off: bool = False
    late_fee: Decimal = Decimal("0.00")
    contract_daily_rate: Decimal | None = None
    penalty_multiplier: Decimal = DEFAULT_PENALTY_MULTIPLIER
    name: str = "custom"
    version: str = "1"

    def __post_init__(self) -> None:
        check_allocation_order(self.allocation_order)
        if self.grace_days < 0:
            raise PolicyError("grace_days", self.grace_days, "must be ≥ 0")
        if self.write_off_dpd <= self.grace_days:
            raise PolicyError("write_off_dpd", self.write_off_dpd, "must exceed grace_days")
        for key in ("tolerance", "late_fee", "penalty_daily_rate", "penalty_multiplier"):
            if getattr(self, key) < 0:
                raise PolicyError(key, getattr(self, key), "must be ≥ 0")
        if self.penalty_daily_rate >= 1:
            raise PolicyError("penalty_daily_rate", self.penalty_daily_rate, "must be < 1 a day")


def check_allocation_order(order: tuple[str, ...]) -> None:
    if sorted(order) != sorted(COMPONENTS) or len(order) != len(COMPONENTS):
        raise PolicyError(
            "allocation_order",
            list(order),
            "must be a permutation of fee, penalty, interest, principal",
        )


def resolve_penalty_rate(
    product: Product,
    penalty_daily_rate: Decimal | None,
    contract_daily_rate: Decimal | None,
    penalty_multiplier: Decimal,
) -> Decimal:
    """The daily penalty rate by the rule of the foundation issue, point 3.

    Explicit rate wins; else contract rate × multiplier; else 0.05 % a day for revolving products.
    An installment product with neither is bad input: a loan's penalty depends on its contract.
    """
    if penalty_daily_rate is not None:
        return penalty_daily_rate
    if contract_daily_rate is not None:
        return contract_daily_rate * penalty_multiplier
    if product is Product.REVOLVING:
        return REVOLVING_DEFAULT_PENALTY_RATE
    raise PolicyError(
        "penalty_daily_rate",
        None,
        "an installment product needs penalty_daily_rate or contract_daily_rate",
    )


def resolve_policy(
    product: Product,
    *,
    grace_days: int = 0,
    tolerance: Decimal = Decimal("0.00"),
    penalty_daily_rate: Decimal | None = None,
    contract_daily_rate: Decimal | None = None,
    penalty_multiplier: Decimal | None = None,
    penalty_base: PenaltyBase = PenaltyBase.PRINCIPAL,
    allocation_order: tuple[Component, ...] = DEFAULT_ALLOCATION_ORDER,
    write_off_dpd: int | None = None,
    accrue_after_write_off: bool = False,
    late_fee: Decimal = Decimal("0.00"),
    name: str = "custom",
    version: str = "1",
) -> Policy:
    """Apply the documented defaults and return a validated :class:`Policy`."""
    multiplier = DEFAULT_PENALTY_MULTIPLIER if penalty_multiplier is None else penalty_multiplier
    rate = resolve_penalty_rate(product, penalty_daily_rate, contract_daily_rate, multiplier)
    return Policy(
        product=product,
        penalty_daily_rate=rate,
        grace_days=grace_days,
        tolerance=tolerance,
        penalty_base=penalty_base,
        allocation_order=allocation_order,
        write_off_dpd=DEFAULT_WRITE_OFF_DPD[product.value]
        if write_off_dpd is None
        else write_off_dpd,
        accrue_after_write_off=accrue_after_write_off,
        late_fee=late_fee,
        contract_daily_rate=contract_daily_rate,
        penalty_multiplier=multiplier,
        name=name,
        version=version,
    )

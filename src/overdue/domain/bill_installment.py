"""Bill installment (账单分期) — domain.md §1.

A bill of amount ``P`` is converted into ``n`` monthly parts (3/6/9/12 with the historical list
prices) for a total fee of ``round_half_up(P × fee_rate)``. Each part's principal is
``round_half_up(P / n)`` and each part's fee ``round_half_up(total_fee / n)``; the last part takes
what is left of each, so parts sum exactly to ``P`` and to the total fee. The fee table is data
passed in (:data:`DEFAULT_FEE_RATES` is only the default), never a constant inside the logic.

Chinese rules require the annualised rate to be disclosed. The customer receives ``P`` now (the
bill is deferred) and pays part ``k`` at the end of month ``k``; the **monthly IRR** ``i`` solves
``P = Σ payment_k / (1+i)^k`` (bisection in 50-digit ``Decimal`` to 1e-24). Then
``nominal_apr = 12 × i`` and ``effective_annual_rate = (1+i)^12 − 1``.

For level parts (any ``P``, ignoring the rounding of parts, :func:`list_price_rates`) the list
prices give, to 6 decimals::

    parts  fee    monthly IRR  nominal APR  effective annual rate
      3   2.5 %   0.012449     14.9384 %    16.0048 %
      6   4.5 %   0.012723     15.2677 %    16.3828 %
      9   6.5 %   0.012784     15.3402 %    16.4661 %
     12   8.8 %   0.013220     15.8643 %    17.0702 %

so the nominal APR is about 15–16 % and the effective rate about 16–17 %, well above what a naive
"fee / term" reading (8.8 % a year for 12 parts) suggests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from overdue.domain.calendar import add_months
from overdue.domain.money import CENT, ZERO
from overdue.domain.schedules import DueItemData, round_fraction

DEFAULT_FEE_RATES: Final[Mapping[int, Decimal]] = MappingProxyType(
    {3: Decimal("0.025"), 6: Decimal("0.045"), 9: Decimal("0.065"), 12: Decimal("0.088")}
)
MONTHS_PER_YEAR: Final = 12
MAX_PARTS: Final = 120
_IRR_DIGITS: Final = 50
_IRR_TOLERANCE: Final = Decimal("1e-24")
_IRR_MAX_ITERATIONS: Final = 200
_IRR_MAX_DOUBLINGS: Final = 64


@dataclass(frozen=True)
class InstallmentPart:
    part: int
    principal: Decimal
    fee: Decimal
    payment: Decimal


@dataclass(frozen=True)
class InstallmentPlan:
    """A bill split into parts, with the rates to disclose (fractions: 0.15 = 15 %)."""

    amount: Decimal
    parts: tuple[InstallmentPart, ...]
    total_fee_rate: Decimal
    total_fee: Decimal
    monthly_irr: Decimal
    nominal_apr: Decimal
    effective_annual_rate: Decimal


def split_evenly(total: Decimal, count: int) -> tuple[Decimal, ...]:
    """``count`` parts of ``round_half_up(total / count)``, the last taking the rest (≥ 0)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PARTS:
        raise ValueError(f"count: {count!r} must be an integer 1..{MAX_PARTS}")
    share = round_fraction(Fraction(total) / count)
    parts: list[Decimal] = []
    left = total
    for k in range(count):
        part = left if k == count - 1 else min(share, left)
        left -= part
        parts.append(part)
    assert sum(parts, ZERO) == total and all(p >= 0 for p in parts)
    return tuple(parts)


def _npv(amount: Decimal, payments: Sequence[Decimal], rate: Decimal) -> Decimal:
    discount = 1 + rate
    value = -amount
    factor = Decimal(1)
    for payment in payments:
        factor /= discount
        value += payment * factor
    return value


def monthly_irr(amount: Decimal, payments: Sequence[Decimal]) -> Decimal:
    """The monthly rate ``i ≥ 0`` with ``amount = Σ payments[k-1] / (1+i)^k``, to 1e-24.

    Requires ``amount > 0``, payments ≥ 0 and ``Σ payments ≥ amount`` (a fee is never negative,
    so the rate is never negative). The result is rounded to 30 decimals.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise ValueError(f"amount: {amount!r} must be a Decimal > 0")
    if not payments or len(payments) > MAX_PARTS or any(p < 0 for p in payments):
        raise ValueError(f"payments: need 1..{MAX_PARTS} payments, each ≥ 0")
    total = sum(payments, ZERO)
    if total < amount:
        raise ValueError("payments: they add up to less than the amount (negative rate)")
    if total == amount:
        return Decimal(0)  # no fee: exactly zero, not a bisection residue
    with localcontext() as ctx:
        ctx.prec = _IRR_DIGITS
        low, high = Decimal(0), Decimal(1)
        for _ in range(_IRR_MAX_DOUBLINGS):
            if _npv(amount, payments, high) <= 0:
                break
            low, high = high, high * 2
        else:
            raise ValueError("payments: the rate is beyond any plausible bound")
        for _ in range(_IRR_MAX_ITERATIONS):
            if high - low <= _IRR_TOLERANCE:
                break
            middle = (low + high) / 2
            if _npv(amount, payments, middle) > 0:
                low = middle
            else:
                high = middle
        result = ((low + high) / 2).quantize(Decimal("1e-30"))
    return result


def nominal_apr(irr: Decimal) -> Decimal:
    """``12 × monthly IRR``: the annualised rate Chinese disclosure rules ask for."""
    return irr * MONTHS_PER_YEAR


def effective_annual_rate(irr: Decimal) -> Decimal:
    """``(1 + monthly IRR)^12 − 1``: the compounded annual cost."""
    with localcontext() as ctx:
        ctx.prec = _IRR_DIGITS
        return ((1 + irr) ** MONTHS_PER_YEAR - 1).quantize(Decimal("1e-30"))


def _fee_rate(parts: int, fee_rates: Mapping[int, Decimal]) -> Decimal:
    if parts not in fee_rates:
        offered = "/".join(str(n) for n in sorted(fee_rates))
        raise ValueError(f"parts: {parts!r} is not offered (choose {offered})")
    rate = fee_rates[parts]
    if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate < 1:
        raise ValueError(f"fee_rates[{parts}]: {rate!r} must be a Decimal in [0, 1)")
    return rate


def plan_installment(
    amount: Decimal, parts: int, fee_rates: Mapping[int, Decimal] = DEFAULT_FEE_RATES
) -> InstallmentPlan:
    """Split a bill of ``amount`` into ``parts`` monthly parts; rules and rates in the module doc.

    The disclosed rates come from the actual (rounded) part payments.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"amount: {amount!r} must be a finite Decimal")
    if amount <= 0:
        raise ValueError(f"amount: {amount} must be > 0")
    if amount != amount.quantize(CENT):
        raise ValueError(f"amount: {amount} has more than two decimals")
    rate = _fee_rate(parts, fee_rates)
    total_fee = round_fraction(Fraction(amount) * Fraction(rate))
    principals = split_evenly(amount, parts)
    fees = split_evenly(total_fee, parts)
    lines = tuple(
        InstallmentPart(part=k + 1, principal=p, fee=f, payment=p + f)
        for k, (p, f) in enumerate(zip(principals, fees, strict=True))
    )
    irr = monthly_irr(amount, [line.payment for line in lines])
    return InstallmentPlan(
        amount=amount,
        parts=lines,
        total_fee_rate=rate,
        total_fee=total_fee,
        monthly_irr=irr,
        nominal_apr=nominal_apr(irr),
        effective_annual_rate=effective_annual_rate(irr),
    )


def list_price_rates(parts: int, total_fee_rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """``(monthly IRR, nominal APR, effective annual rate)`` for level parts ``(1 + fee) / n``.

    Independent of the amount: the figure to print next to a list price.
    """
    if isinstance(parts, bool) or not isinstance(parts, int) or not 1 <= parts <= MAX_PARTS:
        raise ValueError(f"parts: {parts!r} must be an integer 1..{MAX_PARTS}")
    with localcontext() as ctx:
        ctx.prec = _IRR_DIGITS
        level = (1 + total_fee_rate) / parts
    irr = monthly_irr(Decimal(1), [level] * parts)
    return irr, nominal_apr(irr), effective_annual_rate(irr)


def installment_due_items(
    plan: InstallmentPlan, first_due_date: date, bill_id: str
) -> tuple[DueItemData, ...]:
    """The plan's parts as due items (fee as the ``fee`` component), monthly from
    ``first_due_date`` (clamped to month ends); ids ``"<bill_id>-<part>"``."""
    if not bill_id:
        raise ValueError("bill_id: must not be empty")
    return tuple(
        DueItemData(
            id=f"{bill_id}-{line.part}",
            due_date=add_months(first_due_date, line.part - 1, day=first_due_date.day),
            principal=line.principal,
            interest=ZERO,
            fee=line.fee,
        )
        for line in plan.parts
    )

"""Exact money: ``Decimal`` amounts, rounded half-up to 0.01 where the rules say so.

Columnar data carries integer fen (cents); the helpers here convert both ways exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Final

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")


class Currency(Enum):
    """Currencies the platform books. Both have two minor digits (fen / cents)."""

    CNY = "CNY"
    USD = "USD"

    @property
    def minor_digits(self) -> int:
        return 2


def round_money(amount: Decimal) -> Decimal:
    """Round half-up to 0.01 — the only rounding rule for money in the domain."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(text: str | int | Decimal, *, field: str = "amount") -> Decimal:
    """Parse a decimal string (e.g. ``"12.30"``) into an exact, non-negative amount.

    Raises ``ValueError`` naming the field for anything that is not a plain non-negative number
    with at most two decimals. Floats are refused: they cannot carry money exactly.
    """
    if isinstance(text, float | bool):
        raise ValueError(f"{field}: {text!r} must be a decimal string, not a float")
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f"{field}: {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"{field}: {text!r} is not a finite number")
    if value < 0:
        raise ValueError(f"{field}: {text!r} is negative")
    if value != value.quantize(CENT):
        raise ValueError(f"{field}: {text!r} has more than two decimals")
    return value.quantize(CENT)


def to_fen(amount: Decimal) -> int:
    """Exact conversion of a two-decimal amount to integer fen."""
    fen = amount * 100
    assert fen == fen.to_integral_value(), f"{amount} has more than two decimals"
    return int(fen)


def from_fen(fen: int) -> Decimal:
    """Exact conversion of integer fen to a two-decimal amount."""
    return (Decimal(fen) / 100).quantize(CENT)


def fmt(amount: Decimal) -> str:
    """Amount as a string with exactly two decimals (the JSON contract's form)."""
    return str(round_money(amount))

"""Products of the synthetic book: Huabei-like revolving lines and Jiebei-like installment loans.

Revolving (policy ``huabei-like``): statement on the 1st covering the previous month's spending,
due on the 10th, minimum 10 % of the bill, unpaid rest revolves with 0.05 %/day interest.

Installment (policy ``jiebei-like``): a loan booked on ``opened_on``, 3/6/9/12 monthly periods,
daily rate 0.02 %–0.06 % in steps of 0.005 %, the four repayment methods of domain.md §1.
The contract annual rate is ``daily × 360`` (so the monthly rate ``annual / 12`` is ``daily × 30``);
the monthly rate is held exactly as ``rate_num / RATE_DEN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import numpy as np
import numpy.typing as npt

from overdue.twin.customers import LatentType, Population

IntArray = npt.NDArray[np.int64]

REVOLVING: Final = 0
INSTALLMENT: Final = 1
PRODUCT_NAMES: Final = ("revolving", "installment")
POLICY_BY_PRODUCT: Final = ("huabei-like", "jiebei-like")
REVOLVING_SHARE: Final = 0.6  # of single-account customers

STATEMENT_DAY: Final = 1
DUE_DAY: Final = 10
MINIMUM_PERCENT: Final = 10
REVOLVING_DAILY_RATE_PER_10K: Final = 5  # 0.05 %/day = 5 / 10 000

CREDIT_LIMITS_YUAN: Final = np.array(
    [500, 1000, 2000, 3000, 5000, 8000, 10000, 15000, 20000, 30000, 50000], dtype=np.int64
)
CREDIT_LIMIT_WEIGHTS: Final = np.array([4, 8, 12, 12, 16, 12, 12, 9, 7, 5, 3], dtype=np.float64)

# Monthly rate = RATE_NUMS / RATE_DEN; daily = monthly / 30; annual = monthly × 12.
RATE_DEN: Final = 20000
RATE_NUMS: Final = np.arange(120, 361, 15, dtype=np.int64)  # daily 0.020 % … 0.060 %
TERMS: Final = np.array([3, 6, 9, 12], dtype=np.int64)
TERM_WEIGHTS: Final = np.array([0.15, 0.25, 0.10, 0.50])
MAX_TERM: Final = 12

METHOD_NAMES: Final = ("equal_installment", "equal_principal", "interest_first", "hybrid_6_6")
EQUAL_INSTALLMENT: Final = 0
EQUAL_PRINCIPAL: Final = 1
INTEREST_FIRST: Final = 2
HYBRID_6_6: Final = 3
METHOD_WEIGHTS: Final = np.array([0.55, 0.15, 0.12, 0.18])

PRINCIPAL_MEDIAN_YUAN: Final = 6000.0
PRINCIPAL_MIN_YUAN: Final = 500
PRINCIPAL_MAX_YUAN: Final = 100000


@dataclass(frozen=True)
class AccountTerms:
    """Product terms of the accounts of one chunk (one row per account)."""

    product: npt.NDArray[np.int8]
    opened_on: IntArray  # day numbers
    credit_limit_fen: IntArray  # 0 for loans
    principal_fen: IntArray  # 0 for revolving lines
    term_months: IntArray  # 0 for revolving lines
    method: npt.NDArray[np.int8]  # -1 for revolving lines
    rate_num: IntArray  # monthly rate numerator over RATE_DEN; 0 for revolving lines
    spend_share: npt.NDArray[np.float64]  # revolving: usual monthly spending / credit limit


def annual_rate_text(rate_num: int) -> str:
    """The contract's annual rate string for a monthly rate ``rate_num / RATE_DEN``."""
    annual = Decimal(rate_num * 12) / Decimal(RATE_DEN)
    text = format(annual.normalize(), "f")
    return text


def daily_rate(rate_num: int) -> Decimal:
    return Decimal(rate_num) / Decimal(RATE_DEN * 30)


def draw_products(rng: np.random.Generator, pop: Population) -> npt.NDArray[np.int8]:
    """Single-account customers: revolving or installment; two-account: one of each."""
    n = pop.n_accounts
    single = rng.random(n) < REVOLVING_SHARE
    two_account = np.bincount(pop.account_customer, minlength=pop.customer_type.size) == 2
    of_two = two_account[pop.account_customer]
    product = np.where(of_two, pop.account_rank, np.where(single, REVOLVING, INSTALLMENT))
    return product.astype(np.int8)


def draw_terms(
    rng: np.random.Generator,
    pop: Population,
    months_first_days: IntArray,
    initial_book_share: float = 0.35,
) -> AccountTerms:
    """Products, opening dates and terms of each account of the chunk.

    ``months_first_days`` holds the day number of the 1st of each month of the window plus the
    1st of the month after it. A share of the accounts is the initial book, opened during the first
    month; the rest open uniformly over the window except its last month, so vintages exist.
    """
    n = pop.n_accounts
    types = pop.account_type
    product = draw_products(rng, pop)
    n_months = months_first_days.size - 1
    initial = rng.random(n) < initial_book_share
    month = np.where(initial, 0, rng.integers(0, max(1, n_months - 1), size=n))
    month_length = months_first_days[month + 1] - months_first_days[month]
    opened_on = months_first_days[month] + (rng.random(n) * month_length).astype(np.int64)

    limit_index = rng.choice(
        CREDIT_LIMITS_YUAN.size, size=n, p=CREDIT_LIMIT_WEIGHTS / CREDIT_LIMIT_WEIGHTS.sum()
    )
    limit_yuan = CREDIT_LIMITS_YUAN[limit_index]
    spend_share = rng.beta(2.0, 5.0, size=n)

    raw = np.exp(rng.normal(np.log(PRINCIPAL_MEDIAN_YUAN), 0.8, size=n))
    principal_yuan = (np.round(raw / 100.0) * 100).astype(np.int64)
    principal_yuan = principal_yuan.clip(PRINCIPAL_MIN_YUAN, PRINCIPAL_MAX_YUAN)
    term = TERMS[rng.choice(TERMS.size, size=n, p=TERM_WEIGHTS)]
    method = rng.choice(len(METHOD_NAMES), size=n, p=METHOD_WEIGHTS).astype(np.int8)
    method = np.where((method == HYBRID_6_6) & (term != 12), EQUAL_INSTALLMENT, method)
    # Risk-based pricing: riskier latent types are priced a little higher on average.
    risk_shift = np.where(types == LatentType.RELIABLE, 0.0, 1.5)
    rate_index = (rng.normal(3.5 + risk_shift, 2.0, size=n)).round().astype(np.int64)
    rate_num = RATE_NUMS[rate_index.clip(0, RATE_NUMS.size - 1)]

    revolving = product == REVOLVING
    return AccountTerms(
        product=product,
        opened_on=opened_on.astype(np.int64),
        credit_limit_fen=np.where(revolving, limit_yuan * 100, 0).astype(np.int64),
        principal_fen=np.where(revolving, 0, principal_yuan * 100).astype(np.int64),
        term_months=np.where(revolving, 0, term).astype(np.int64),
        method=np.where(revolving, -1, method).astype(np.int8),
        rate_num=np.where(revolving, 0, rate_num).astype(np.int64),
        spend_share=spend_share,
    )


def revolving_bills(
    revolved_fen: IntArray, new_spend_fen: IntArray, days: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Principal, interest and minimum of bills, by :func:`overdue.domain.revolving.build_statement`.

    ``principal = revolved + new spend``; ``interest = revolved × 0.05 % × days`` (days from the
    day after the previous due date to the statement date, both inclusive), half-up to the fen;
    ``minimum = 10 % of (principal + interest)``, half-up.
    """
    assert np.all(revolved_fen >= 0) and np.all(new_spend_fen >= 0)
    with_interest = revolved_fen > 0
    assert np.all(days[with_interest] >= 0)
    numerator = np.where(with_interest, revolved_fen * REVOLVING_DAILY_RATE_PER_10K * days, 0)
    interest = (2 * numerator + 10_000) // 20_000
    principal = revolved_fen + new_spend_fen
    minimum = (2 * (principal + interest) * MINIMUM_PERCENT + 100) // 200
    return principal, interest, minimum

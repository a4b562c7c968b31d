"""Customers of the synthetic book and their latent (hidden) behaviour types.

Every customer has one latent type that drives how they pay; it is never written into the book's
contract tables (a model has to discover it), only into ``_truth/latent_types.parquet`` so that
tests and model evaluations can check against it.

- ``reliable``: pays on time, sometimes revolves with the minimum.
- ``forgetful``: means to pay but pays a few days late; a reminder cures it.
- ``short_of_money``: pays the minimum or part of it, misses in hard months, rolls and cures.
- ``unwilling``: pays for a while, then stops paying for good.
- ``fraud``: never pays anything, from the first bill on (first-payment default).

A customer holds one account (usually) or two (one revolving line and one installment loan).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc


class LatentType(IntEnum):
    RELIABLE = 0
    FORGETFUL = 1
    SHORT_OF_MONEY = 2
    UNWILLING = 3
    FRAUD = 4

    @property
    def label(self) -> str:
        return self.name.lower()


TYPE_LABELS: Final = tuple(t.label for t in LatentType)


@dataclass(frozen=True)
class TypeMix:
    """Shares of customers by latent type (they sum to 1)."""

    reliable: float = 0.645
    forgetful: float = 0.14
    short_of_money: float = 0.20
    unwilling: float = 0.011
    fraud: float = 0.004

    def __post_init__(self) -> None:
        shares = self.shares()
        assert np.all(shares >= 0), f"type shares must be ≥ 0: {shares}"
        assert abs(float(shares.sum()) - 1.0) < 1e-9, f"type shares must sum to 1: {shares}"

    def shares(self) -> npt.NDArray[np.float64]:
        return np.array(
            [self.reliable, self.forgetful, self.short_of_money, self.unwilling, self.fraud]
        )


TWO_ACCOUNT_SHARE: Final = 0.15  # customers holding both a revolving line and a loan
EN_SHARE: Final = 0.03
REGIONS: Final = (
    "Guangdong",
    "Zhejiang",
    "Jiangsu",
    "Shandong",
    "Henan",
    "Sichuan",
    "Hubei",
    "Fujian",
    "Hunan",
    "Shanghai",
    "Beijing",
    "Hebei",
    "Anhui",
    "Shaanxi",
    "Chongqing",
    "Yunnan",
)
REGION_MISSING_SHARE: Final = 0.02
SEGMENTS: Final = ("salaried", "self_employed", "student", "gig_worker")
# P(segment | latent type): a weak, honest signal for scoring models, not a giveaway.
SEGMENT_GIVEN_TYPE: Final = np.array(
    [
        [0.66, 0.20, 0.08, 0.06],  # reliable
        [0.58, 0.18, 0.15, 0.09],  # forgetful
        [0.45, 0.18, 0.14, 0.23],  # short of money
        [0.46, 0.24, 0.10, 0.20],  # unwilling
        [0.40, 0.20, 0.15, 0.25],  # fraud
    ]
)


@dataclass(frozen=True)
class Population:
    """The customers of one chunk and, for each account of the chunk, its customer and type.

    ``account_customer`` indexes into the customer arrays; accounts are numbered from
    ``first_account`` (0-based global index) in order.
    """

    first_account: int
    customer_first_account: npt.NDArray[np.int64]  # global index of each customer's first account
    customer_type: npt.NDArray[np.int8]
    account_customer: npt.NDArray[np.int64]
    account_rank: npt.NDArray[np.int8]  # 0 for a customer's first account, 1 for the second

    @property
    def account_type(self) -> npt.NDArray[np.int8]:
        return self.customer_type[self.account_customer]

    @property
    def n_accounts(self) -> int:
        return int(self.account_customer.size)


def draw_population(
    rng: np.random.Generator, first_account: int, n_accounts: int, mix: TypeMix
) -> Population:
    """Customers for the accounts ``first_account … first_account + n_accounts − 1``."""
    assert n_accounts > 0
    sizes = np.where(rng.random(n_accounts) < TWO_ACCOUNT_SHARE, 2, 1)
    ends = np.cumsum(sizes)
    n_customers = int(np.searchsorted(ends, n_accounts) + 1)
    sizes = sizes[:n_customers].copy()
    sizes[-1] -= int(ends[n_customers - 1] - n_accounts)  # the last customer may lose an account
    types = rng.choice(len(LatentType), size=n_customers, p=mix.shares()).astype(np.int8)
    sizes[types == LatentType.FRAUD] = 1  # a fraudster takes one account and vanishes
    # Refill to exactly n_accounts with single-account customers of the same mix.
    missing = n_accounts - int(sizes.sum())
    if missing > 0:
        extra = rng.choice(len(LatentType), size=missing, p=mix.shares()).astype(np.int8)
        types = np.concatenate([types, extra])
        sizes = np.concatenate([sizes, np.ones(missing, dtype=sizes.dtype)])
    account_customer = np.repeat(np.arange(types.size, dtype=np.int64), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = (np.arange(n_accounts, dtype=np.int64) - starts[account_customer]).astype(np.int8)
    assert account_customer.size == n_accounts
    return Population(
        first_account=first_account,
        customer_first_account=first_account + starts.astype(np.int64),
        customer_type=types,
        account_customer=account_customer,
        account_rank=rank,
    )


def id_strings(prefix: str, numbers: npt.NDArray[np.int64], width: int) -> pa.Array:
    """``prefix`` + zero-padded decimal numbers, built in Arrow (fast for millions of rows)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


ID_WIDTH: Final = 9


def customer_ids(pop: Population) -> pa.Array:
    """A customer's id is ``C`` + the number of its first account: unique and chunk-free."""
    return id_strings("C", pop.customer_first_account + 1, ID_WIDTH)


def account_ids(first_account: int, n_accounts: int) -> pa.Array:
    numbers = np.arange(first_account + 1, first_account + n_accounts + 1, dtype=np.int64)
    return id_strings("A", numbers, ID_WIDTH)


def customers_table(rng: np.random.Generator, pop: Population) -> pa.Table:
    """The ``customers`` table of the chunk (contract columns)."""
    n = pop.customer_type.size
    english = rng.random(n) < EN_SHARE
    language = np.where(english, "en", "zh-CN")
    zone_draw = rng.random(n)
    time_zone = np.where(
        english,
        np.where(zone_draw < 0.7, "Asia/Shanghai", "Asia/Hong_Kong"),
        np.where(zone_draw < 0.98, "Asia/Shanghai", "Asia/Urumqi"),
    )
    region_index = rng.integers(0, len(REGIONS), size=n)
    region = pa.array(np.array(REGIONS)[region_index], type=pa.string())
    region_missing = pa.array(rng.random(n) < REGION_MISSING_SHARE)
    region = pc.if_else(region_missing, pa.scalar(None, pa.string()), region)
    cumulative = np.cumsum(SEGMENT_GIVEN_TYPE[pop.customer_type], axis=1)
    segment_index = (rng.random(n)[:, None] > cumulative).sum(axis=1).clip(0, len(SEGMENTS) - 1)
    return pa.table(
        {
            "customer_id": customer_ids(pop),
            "language": pa.array(language, type=pa.string()),
            "time_zone": pa.array(time_zone, type=pa.string()),
            "region": region,
            "segment": pa.array(np.array(SEGMENTS)[segment_index], type=pa.string()),
        }
    )


def latent_table(pop: Population) -> pa.Table:
    """The hidden truth: each customer's latent type (``_truth/latent_types.parquet``)."""
    labels = np.array(TYPE_LABELS)[pop.customer_type]
    return pa.table(
        {"customer_id": customer_ids(pop), "latent_type": pa.array(labels, type=pa.string())}
    )

"""Settings of the collection operation, validated (pydantic) and loadable from one TOML file.

Every section is optional; defaults are listed in docs/operations/cases.md. Example::

    [entry]                 # which delinquent accounts become cases
    min_bucket = "M1"
    min_dpd = 1
    min_overdue_fen = 1

    [promises]
    tolerance_fen = 100     # a promise is kept when paid >= amount - max(tolerance_fen, pct)
    tolerance_pct = "0.02"
    grace_days = 2
    reminder_days = 1

    [[authority.rules]]
    kind = "settlement"
    max_amount_fen = 100000
    proposers = ["collector", "manager"]
    approvers = ["manager"]

    [retention]
    keep_years = 5          # refused when below 5
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from overdue.store.tables import ROLES

MAX_CONFIG_BYTES = 1_000_000
BUCKETS_CN = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7")
MIN_RETENTION_YEARS = 5


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntryRule(_Settings):
    """An account becomes a case when all three hold: bucket ≥ min_bucket, dpd ≥ min_dpd and
    total overdue ≥ min_overdue_fen."""

    min_bucket: str = "M1"
    min_dpd: int = Field(default=1, ge=0, le=10_000)
    min_overdue_fen: int = Field(default=1, ge=0)

    @field_validator("min_bucket")
    @classmethod
    def _known_bucket(cls, value: str) -> str:
        if value not in BUCKETS_CN:
            raise ValueError(f"must be one of {', '.join(BUCKETS_CN)}")
        return value

    def bucket_rank(self) -> int:
        return BUCKETS_CN.index(self.min_bucket)


class PromiseRule(_Settings):
    """Kept when payments from the day the promise was made to promised_date + grace_days
    reach amount − max(tolerance_fen, amount × tolerance_pct); broken after that."""

    tolerance_fen: int = Field(default=0, ge=0)
    tolerance_pct: Decimal = Field(default=Decimal("0"), ge=0, lt=1)
    grace_days: int = Field(default=2, ge=0, le=60)
    reminder_days: int = Field(default=1, ge=0, le=30)
    max_days_ahead: int = Field(default=30, ge=0, le=366)
    redecide_days: int = Field(default=60, ge=0, le=3660)

    @field_validator("tolerance_pct", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('write the percentage as a string, e.g. "0.02"')
        return value


class PlanRule(_Settings):
    min_installments: int = Field(default=2, ge=1)
    max_installments: int = Field(default=24, ge=1, le=120)
    grace_days: int = Field(default=3, ge=0, le=60)
    interval_days: int = Field(default=30, ge=1, le=92)


class SettlementRule(_Settings):
    max_discount_pct: Decimal = Field(default=Decimal("0.5"), ge=0, lt=1)
    max_days_to_pay: int = Field(default=30, ge=1, le=366)


class AuthorityRow(_Settings):
    """Who may propose ``kind`` up to ``max_amount_fen`` and who must approve it."""

    kind: Literal["waiver", "plan", "settlement"]
    max_amount_fen: int = Field(ge=0)
    proposers: tuple[str, ...] = Field(min_length=1)
    approvers: tuple[str, ...] = Field(min_length=1)

    @field_validator("proposers", "approvers")
    @classmethod
    def _known_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}; roles: {', '.join(ROLES)}")
        return roles


DEFAULT_AUTHORITY = (
    AuthorityRow(
        kind="waiver",
        max_amount_fen=20_000,
        proposers=("collector", "customer_service", "manager"),
        approvers=("manager", "admin"),
    ),
    AuthorityRow(
        kind="waiver", max_amount_fen=500_000, proposers=("manager",), approvers=("admin",)
    ),
    AuthorityRow(
        kind="plan",
        max_amount_fen=5_000_000,
        proposers=("collector", "customer_service", "manager"),
        approvers=("manager", "admin"),
    ),
    AuthorityRow(
        kind="plan", max_amount_fen=50_000_000, proposers=("manager",), approvers=("admin",)
    ),
    AuthorityRow(
        kind="settlement",
        max_amount_fen=100_000,
        proposers=("collector", "customer_service", "manager"),
        approvers=("manager", "admin"),
    ),
    AuthorityRow(
        kind="settlement", max_amount_fen=1_000_000, proposers=("manager",), approvers=("admin",)
    ),
)


class AuthorityMatrix(_Settings):
    rules: tuple[AuthorityRow, ...] = DEFAULT_AUTHORITY


class RetentionRule(_Settings):
    """Collection records are kept ``keep_years`` (at least 5) after a customer's last case
    closed; personal data is purged after that, ``batch_size`` customers per run."""

    keep_years: int = Field(default=5, le=100)
    batch_size: int = Field(default=10_000, ge=1, le=1_000_000)

    @field_validator("keep_years")
    @classmethod
    def _at_least_five(cls, value: int) -> int:
        if value < MIN_RETENTION_YEARS:
            raise ValueError(
                f"collection records must be kept at least {MIN_RETENTION_YEARS} years"
            )
        return value


class QueueSpec(_Settings):
    name: str = Field(min_length=1, max_length=100)
    bucket: str | None = None
    segment: str | None = None
    language: str | None = None
    sla_days: int = Field(default=3, ge=0, le=365)
    capacity: int = Field(default=100_000, ge=0)


class CasesConfig(_Settings):
    entry: EntryRule = EntryRule()
    promises: PromiseRule = PromiseRule()
    plans: PlanRule = PlanRule()
    settlements: SettlementRule = SettlementRule()
    authority: AuthorityMatrix = AuthorityMatrix()
    retention: RetentionRule = RetentionRule()
    queues: tuple[QueueSpec, ...] = ()

    @model_validator(mode="after")
    def _unique_queue_names(self) -> CasesConfig:
        names = [q.name for q in self.queues]
        if len(names) != len(set(names)):
            raise ValueError("queues: names must be unique")
        return self


class CasesConfigError(ValueError):
    """A settings file that cannot be used; one line naming the file, key and reason."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        key = ".".join(str(p) for p in error["loc"]) or "(top)"
        parts.append(f"{key} = {error['input']!r}: {error['msg']}")
    return "; ".join(parts)


def parse_config(data: object, source: str = "config") -> CasesConfig:
    try:
        return CasesConfig.model_validate(data)
    except ValidationError as exc:
        raise CasesConfigError(f"{source}: {_describe(exc)}") from None


def load_config(path: Path | None) -> CasesConfig:
    """The settings in ``path`` (TOML), or the defaults when ``path`` is None."""
    if path is None:
        return CasesConfig()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CasesConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise CasesConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CasesConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, str(path))

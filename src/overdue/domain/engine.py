"""The overdue engine for one account: the reference definition of overdue (domain.md §2).

``account_state(account, policy, as_of)`` is a pure function of the account's due items,
payments, waivers and reversals: entering a backdated payment today gives exactly the state that
entering it on its value date would have given. The whole-book batch must equal it field by field.

Each business day D, in this order (the foundation issue's contract):

0. start of D: items whose grace window ended on D − 1 settle their provisional penalty (owed if
   the item was still open at the end of the window, otherwise dropped) and get the late fee;
   credit balance is applied to the items due on D;
1. penalty accrual: every open item due before D accrues round(base × daily rate) for day D;
2. payments dated D, in entry order, to the open items due on or before D, oldest first;
3. waivers dated D;
4. end of D: items with a minimum whose grace window ends on D are judged (minimum paid →
   closed, rest revolved); then DPD, status, charge-off and bucket transitions are taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from overdue.domain.allocation import allocate
from overdue.domain.buckets import BucketTransition, bucket_cn, bucket_us_for_dpd
from overdue.domain.money import ZERO, fmt, round_money
from overdue.domain.policy import COMPONENTS, Component, PenaltyBase, Policy, Product

MAX_HISTORY_DAYS = 40 * 366  # a limit on the day loop: no account runs longer than 40 years


class EngineInputError(ValueError):
    """An account's inputs break the contract (negative amount, unknown payment id …)."""


@dataclass(frozen=True)
class DueItem:
    """A bill or an installment: what falls due on ``due_date``."""

    id: str
    due_date: date
    principal: Decimal
    interest: Decimal = ZERO
    fee: Decimal = ZERO
    minimum: Decimal | None = None


@dataclass(frozen=True)
class Payment:
    id: str
    date: date
    amount: Decimal


@dataclass(frozen=True)
class Waiver:
    date: date
    component: Component
    amount: Decimal
    approver: str


@dataclass(frozen=True)
class Reversal:
    """Removes the payment ``payment_id`` as if it had never been made, from ``date`` on."""

    payment_id: str
    date: date


@dataclass(frozen=True)
class Account:
    account_id: str
    product: Product
    items: tuple[DueItem, ...]
    payments: tuple[Payment, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    reversals: tuple[Reversal, ...] = ()


@dataclass(frozen=True)
class ItemState:
    """One item at the end of ``as_of``, with what explains its figures."""

    id: str
    due_date: date
    unpaid_principal: Decimal
    unpaid_interest: Decimal
    unpaid_fee: Decimal
    unpaid_penalty: Decimal
    provisional_penalty: Decimal
    penalty_accrued: Decimal
    penalty_days: int
    paid: Decimal
    waived: Decimal
    late_fee_charged: Decimal
    is_open: bool
    closed_by_minimum: bool
    revolved: Decimal


@dataclass(frozen=True)
class AccountState:
    """The account-state contract of the foundation issue."""

    account_id: str
    as_of: date
    status: str
    dpd: int
    bucket_cn: str
    bucket_us: str
    oldest_past_due_date: date | None
    overdue_principal: Decimal
    overdue_interest: Decimal
    overdue_fee: Decimal
    penalty_outstanding: Decimal
    total_overdue: Decimal
    penalty_accrued: Decimal
    credit_balance: Decimal
    revolved_amount: Decimal
    paid_total: Decimal
    waived_total: Decimal
    delinquent_since: date | None
    max_dpd: int
    charged_off_on: date | None
    recovered_after_charge_off: Decimal
    penalty_daily_rate: Decimal
    oldest_past_due_item: str | None
    items: tuple[ItemState, ...]
    transitions: tuple[BucketTransition, ...]

    def to_json_dict(self) -> dict[str, object]:
        """The contract's JSON object: amounts as two-decimal strings, dates ISO or null."""

        def day(value: date | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "account_id": self.account_id,
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "dpd": self.dpd,
            "bucket_cn": self.bucket_cn,
            "bucket_us": self.bucket_us,
            "oldest_past_due_date": day(self.oldest_past_due_date),
            "overdue_principal": fmt(self.overdue_principal),
            "overdue_interest": fmt(self.overdue_interest),
            "overdue_fee": fmt(self.overdue_fee),
            "penalty_outstanding": fmt(self.penalty_outstanding),
            "total_overdue": fmt(self.total_overdue),
            "penalty_accrued": fmt(self.penalty_accrued),
            "credit_balance": fmt(self.credit_balance),
            "revolved_amount": fmt(self.revolved_amount),
            "paid_total": fmt(self.paid_total),
            "waived_total": fmt(self.waived_total),
            "delinquent_since": day(self.delinquent_since),
            "max_dpd": self.max_dpd,
            "charged_off_on": day(self.charged_off_on),
            "recovered_after_charge_off": fmt(self.recovered_after_charge_off),
        }


@dataclass(slots=True)
class ItemLedger:
    """Working state of one item while the days run."""

    item: DueItem
    seq: int
    unpaid: dict[Component, Decimal]
    provisional_penalty: Decimal = ZERO
    penalty_accrued: Decimal = ZERO
    penalty_days: int = 0
    paid: Decimal = ZERO
    waived: Decimal = ZERO
    late_fee_charged: Decimal = ZERO
    closed_by_minimum: bool = False
    revolved: Decimal = ZERO

    @property
    def due_date(self) -> date:
        return self.item.due_date

    def owed(self) -> Decimal:
        return sum(self.unpaid.values(), ZERO)

    def is_open(self, tolerance: Decimal) -> bool:
        return not self.closed_by_minimum and self.owed() > tolerance


@dataclass(slots=True)
class AccountLedger:
    """Working state of the account; ``run_day`` advances it by one business day.

    Its fields are the whole resumable state: the end-of-day batch stores them in the snapshot
    and rebuilds a ledger from them to run the next day (``overdue.portfolio.kernel``).
    """

    policy: Policy
    items: list[ItemLedger]
    credit_balance: Decimal = ZERO
    paid_total: Decimal = ZERO
    waived_total: Decimal = ZERO
    revolved_amount: Decimal = ZERO
    recovered_after_charge_off: Decimal = ZERO
    dpd: int = 0
    status: str = "current"
    max_dpd: int = 0
    run_start: date | None = None
    charged_off_on: date | None = None
    buckets: tuple[str, str] = ("M0", "current")
    transitions: list[BucketTransition] = field(default_factory=list)

    def add_items(self, items: Iterable[ItemLedger]) -> None:
        """Add items that became known later (a new bill or loan), keeping (due date, seq) order."""
        self.items.extend(items)
        self.items.sort(key=lambda led: (led.due_date, led.seq))
        assert len({led.item.id for led in self.items}) == len(self.items), "duplicate item id"

    def run_day(self, day: date, payments: Iterable[Payment], waivers: Iterable[Waiver]) -> None:
        self._settle_grace_windows(day)
        self._apply_credit_on_due_date(day)
        self._accrue_penalty(day)
        for payment in payments:
            self._apply_payment(day, payment)
        for waiver in waivers:
            self._apply_waiver(day, waiver)
        self._judge_minimums(day)
        self._close_day(day)

    def advance(
        self, first: date, last: date, payments: list[Payment], waivers: list[Waiver]
    ) -> None:
        """Run days ``first`` … ``last``: full routine on eventful days, fast-forward between.

        A day is eventful when something other than daily accrual and the DPD count can change
        on it: a payment or waiver, an item's due date, due + 1, due + grace, due + grace + 1,
        or a DPD threshold of the oldest open past-due item (buckets, grace end, write-off).
        """
        by_day: dict[date, tuple[list[Payment], list[Waiver]]] = {}
        for p in payments:
            by_day.setdefault(p.date, ([], []))[0].append(p)
        for w in waivers:
            by_day.setdefault(w.date, ([], []))[1].append(w)
        structural = self._structural_days()
        candidates = sorted({d for d in (*by_day, *structural) if first <= d <= last})
        day = first
        steps = 0
        while day <= last:
            steps += 1
            assert steps <= MAX_HISTORY_DAYS, "advance must terminate"
            payments_today, waivers_today = by_day.get(day, ([], []))
            self.run_day(day, payments_today, waivers_today)
            following = day + timedelta(days=1)
            if following > last:
                break
            upcoming = self._next_eventful_day(following, last, candidates)
            if upcoming > following:
                self._run_quiet_days(following, upcoming - timedelta(days=1))
            day = upcoming

    def _structural_days(self) -> set[date]:
        grace = timedelta(days=self.policy.grace_days)
        one = timedelta(days=1)
        days: set[date] = set()
        for led in self.items:
            days.update((led.due_date, led.due_date + one, led.due_date + grace))
            days.add(led.due_date + grace + one)
        return days

    def _threshold_days(self, after: date) -> list[date]:
        oldest = self.oldest_past_due(after - timedelta(days=1))
        if oldest is None:
            return []
        g, w = self.policy.grace_days, self.policy.write_off_dpd
        dpds = (1, g, g + 1, 30, 31, 60, 61, 90, 91, 120, 121, 150, 151, 180, 181, w, w + 1)
        return [oldest.due_date + timedelta(days=t) for t in dpds]

    def _next_eventful_day(self, following: date, last: date, candidates: list[date]) -> date:
        best = last + timedelta(days=1)
        for d in candidates:
            if d >= following:
                best = min(best, d)
                break
        for d in self._threshold_days(following):
            if following <= d < best:
                best = d
        return best

    def _run_quiet_days(self, first: date, last: date) -> None:
        """Days on which only accrual and the DPD count move (no event, no threshold)."""
        k = (last - first).days + 1
        assert k >= 1
        accruing = self.charged_off_on is None or self.policy.accrue_after_write_off
        for led in self.items:
            if not accruing or led.due_date >= first or not led.is_open(self.policy.tolerance):
                continue
            penalty = round_money(self._penalty_base(led) * self.policy.penalty_daily_rate) * k
            led.penalty_days += k
            if last <= led.due_date + timedelta(days=self.policy.grace_days):
                led.provisional_penalty += penalty
            else:
                led.unpaid["penalty"] += penalty
                led.penalty_accrued += penalty
        oldest = self.oldest_past_due(last)
        self.dpd = 0 if oldest is None else (last - oldest.due_date).days
        self.max_dpd = max(self.max_dpd, self.dpd)
        assert self.dpd == 0 or self.run_start is not None, "a quiet stretch cannot start a run"

    # -- start of day -------------------------------------------------------------------------

    def _settle_grace_windows(self, day: date) -> None:
        window_end = day - timedelta(days=1 + self.policy.grace_days)
        for led in self.items:
            if led.due_date != window_end:
                continue
            if led.is_open(self.policy.tolerance):
                led.unpaid["penalty"] += led.provisional_penalty
                led.penalty_accrued += led.provisional_penalty
                led.unpaid["fee"] += self.policy.late_fee
                led.late_fee_charged = self.policy.late_fee
            else:
                led.penalty_days = 0
            led.provisional_penalty = ZERO

    def _apply_credit_on_due_date(self, day: date) -> None:
        if self.credit_balance == 0:
            return
        due_today = [led for led in self.items if led.due_date == day]
        self.credit_balance = self._pay_items(due_today, self.credit_balance)

    def _accrue_penalty(self, day: date) -> None:
        if self.charged_off_on is not None and not self.policy.accrue_after_write_off:
            return
        for led in self.items:
            if led.due_date >= day or not led.is_open(self.policy.tolerance):
                continue
            penalty = round_money(self._penalty_base(led) * self.policy.penalty_daily_rate)
            led.penalty_days += 1
            if day <= led.due_date + timedelta(days=self.policy.grace_days):
                led.provisional_penalty += penalty
            else:
                led.unpaid["penalty"] += penalty
                led.penalty_accrued += penalty

    def _penalty_base(self, led: ItemLedger) -> Decimal:
        if self.policy.penalty_base is PenaltyBase.PRINCIPAL_AND_INTEREST:
            return led.unpaid["principal"] + led.unpaid["interest"]
        return led.unpaid["principal"]

    # -- during the day -----------------------------------------------------------------------

    def _apply_payment(self, day: date, payment: Payment) -> None:
        self.paid_total += payment.amount
        if self.charged_off_on is not None and day > self.charged_off_on:
            self.recovered_after_charge_off += payment.amount
        tolerance = self.policy.tolerance
        eligible = [led for led in self.items if led.due_date <= day and led.is_open(tolerance)]
        leftover = self._pay_items(eligible, payment.amount)
        self.credit_balance += leftover

    def _pay_items(self, ledgers: list[ItemLedger], amount: Decimal) -> Decimal:
        """Pay ``ledgers`` (already oldest first) from ``amount``; return what is left."""
        parts, leftover = allocate(amount, [led.unpaid for led in ledgers], self._order())
        for led, taken in zip(ledgers, parts, strict=True):
            for component, value in taken.items():
                led.unpaid[component] -= value
                led.paid += value
                assert led.unpaid[component] >= 0
        return leftover

    def _order(self) -> tuple[Component, ...]:
        return self.policy.allocation_order

    def _apply_waiver(self, day: date, waiver: Waiver) -> None:
        remaining = waiver.amount
        for led in self.items:
            if led.due_date > day or remaining == 0:
                continue
            cut = min(remaining, led.unpaid[waiver.component])
            led.unpaid[waiver.component] -= cut
            led.waived += cut
            remaining -= cut
            self.waived_total += cut

    # -- end of day ---------------------------------------------------------------------------

    def _judge_minimums(self, day: date) -> None:
        judged_due = day - timedelta(days=self.policy.grace_days)
        for led in self.items:
            minimum = led.item.minimum
            if minimum is None or led.due_date != judged_due or led.closed_by_minimum:
                continue
            if led.paid >= minimum:
                led.closed_by_minimum = True
                led.revolved = led.owed()
                self.revolved_amount += led.revolved
                for component in COMPONENTS:
                    led.unpaid[component] = ZERO

    def close_day(self, day: date) -> None:
        """End-of-day figures (DPD, status, charge-off, buckets) for ``day``; idempotent."""
        self._close_day(day)

    def _close_day(self, day: date) -> None:
        oldest = self.oldest_past_due(day)
        self.dpd = 0 if oldest is None else (day - oldest.due_date).days
        self.max_dpd = max(self.max_dpd, self.dpd)
        self.run_start = (self.run_start or day) if self.dpd >= 1 else None
        if self.charged_off_on is None and self.dpd >= self.policy.write_off_dpd:
            self.charged_off_on = day
        self.status = self._status(day)
        self._record_buckets(day)

    def oldest_past_due(self, day: date) -> ItemLedger | None:
        tolerance = self.policy.tolerance
        past_due = [led for led in self.items if led.due_date < day and led.is_open(tolerance)]
        return min(past_due, key=lambda led: (led.due_date, led.seq), default=None)

    def _status(self, day: date) -> str:
        if self.charged_off_on is not None:
            return "charged_off"
        if self.dpd >= 1:
            return "in_grace" if self.dpd <= self.policy.grace_days else "overdue"
        tolerance = self.policy.tolerance
        any_open = any(led.is_open(tolerance) for led in self.items)
        scheduled = any(led.due_date > day for led in self.items)
        if not any_open and self.revolved_amount == 0 and not scheduled:
            return "settled"
        return "current"

    def _record_buckets(self, day: date) -> None:
        new = (bucket_cn(self.dpd, self.status), bucket_us_for_dpd(self.dpd))
        if new[0] != self.buckets[0]:
            self.transitions.append(BucketTransition(day, "cn", self.buckets[0], new[0], self.dpd))
        if new[1] != self.buckets[1]:
            self.transitions.append(BucketTransition(day, "us", self.buckets[1], new[1], self.dpd))
        self.buckets = new


# -- the public entry point ---------------------------------------------------------------------


def account_state(
    account: Account, policy: Policy, as_of: date, *, day_by_day: bool = False
) -> AccountState:
    """The account's state at the end of business date ``as_of`` (the reference definition).

    ``day_by_day=True`` runs every day through the full day routine, literally as domain.md
    states it; the default fast-forwards quiet stretches (see ``AccountLedger.advance``), which
    a differential property test proves identical.

    Events dated after ``as_of`` do not exist yet; a reversal dated on or before ``as_of`` removes
    its payment as if it had never been made; a payment id seen twice is applied once (the first).
    """
    validate_account(account)
    ledger = start_ledger(account, policy)
    payments = effective_payments(account, as_of)
    waivers = [w for w in account.waivers if w.date <= as_of]
    days = list(_business_days(account, payments, waivers, as_of))
    if not days:  # nothing has happened yet: the end-of-day figures of an empty history
        ledger.close_day(as_of)
        return ledger_state(account.account_id, ledger, as_of)
    if day_by_day:
        for day in days:
            ledger.run_day(
                day,
                [p for p in payments if p.date == day],
                [w for w in waivers if w.date == day],
            )
    else:
        ledger.advance(days[0], as_of, payments, waivers)
    return ledger_state(account.account_id, ledger, as_of)


def start_ledger(account: Account, policy: Policy) -> AccountLedger:
    """A fresh ledger for the account's items, in (due date, file order) order."""
    ledger = AccountLedger(policy=policy, items=[])
    ledger.add_items(new_item_ledger(item, seq) for seq, item in enumerate(account.items))
    return ledger


def new_item_ledger(item: DueItem, seq: int) -> ItemLedger:
    """The ledger of an item nothing has happened to yet; ``seq`` orders same-day items."""
    unpaid: dict[Component, Decimal] = {
        "fee": item.fee,
        "penalty": ZERO,
        "interest": item.interest,
        "principal": item.principal,
    }
    return ItemLedger(item=item, seq=seq, unpaid=unpaid)


def effective_payments(account: Account, as_of: date) -> list[Payment]:
    """Payments in effect at ``as_of``: first occurrence of each id, not reversed, by date then
    file order."""
    reversed_ids = {r.payment_id for r in account.reversals if r.date <= as_of}
    seen: set[str] = set()
    kept: list[Payment] = []
    for payment in account.payments:
        if payment.id in seen:
            continue
        seen.add(payment.id)
        if payment.date <= as_of and payment.id not in reversed_ids:
            kept.append(payment)
    return sorted(kept, key=lambda p: p.date)  # stable: same-day payments keep file order


def _business_days(
    account: Account, payments: list[Payment], waivers: list[Waiver], as_of: date
) -> Iterable[date]:
    starts = [i.due_date for i in account.items] + [p.date for p in payments]
    starts += [w.date for w in waivers]
    if not starts:
        return []
    first = min(starts)
    days = (as_of - first).days + 1
    if days > MAX_HISTORY_DAYS:
        raise EngineInputError(f"history of {days} days exceeds the limit of {MAX_HISTORY_DAYS}")
    return (first + timedelta(days=k) for k in range(max(0, days)))


def validate_account(account: Account) -> None:
    """Refuse inputs that break the contract, naming the record and field."""
    item_ids: set[str] = set()
    for item in account.items:
        if item.id in item_ids:
            raise EngineInputError(f"items: duplicate item id {item.id!r}")
        item_ids.add(item.id)
        for name in ("principal", "interest", "fee"):
            if getattr(item, name) < 0:
                raise EngineInputError(
                    f"items[{item.id}].{name}: negative amount {getattr(item, name)}"
                )
        if item.minimum is not None and item.minimum < 0:
            raise EngineInputError(f"items[{item.id}].minimum: negative amount {item.minimum}")
    for payment in account.payments:
        if payment.amount <= 0:
            raise EngineInputError(
                f"payments[{payment.id}].amount: must be positive, got {payment.amount}"
            )
    for waiver in account.waivers:
        if waiver.component not in COMPONENTS:
            raise EngineInputError(f"waivers: unknown component {waiver.component!r}")
        if waiver.amount <= 0:
            raise EngineInputError(f"waivers.amount: must be positive, got {waiver.amount}")
    payment_ids = {p.id for p in account.payments}
    for reversal in account.reversals:
        if reversal.payment_id not in payment_ids:
            raise EngineInputError(f"reversals: unknown payment id {reversal.payment_id!r}")


def ledger_state(account_id: str, ledger: AccountLedger, as_of: date) -> AccountState:
    """Read the contract's figures off a ledger that has run through ``as_of``."""
    tolerance = ledger.policy.tolerance
    past_due = [led for led in ledger.items if led.due_date < as_of and led.is_open(tolerance)]
    oldest = ledger.oldest_past_due(as_of)
    overdue = {c: sum((led.unpaid[c] for led in past_due), ZERO) for c in COMPONENTS}
    in_delinquency = ledger.status in ("overdue", "charged_off")
    return AccountState(
        account_id=account_id,
        as_of=as_of,
        status=ledger.status,
        dpd=ledger.dpd,
        bucket_cn=ledger.buckets[0],
        bucket_us=ledger.buckets[1],
        oldest_past_due_date=None if oldest is None else oldest.due_date,
        overdue_principal=overdue["principal"],
        overdue_interest=overdue["interest"],
        overdue_fee=overdue["fee"],
        penalty_outstanding=sum((led.unpaid["penalty"] for led in ledger.items), ZERO),
        total_overdue=sum(overdue.values(), ZERO),
        penalty_accrued=sum((led.penalty_accrued for led in ledger.items), ZERO),
        credit_balance=ledger.credit_balance,
        revolved_amount=ledger.revolved_amount,
        paid_total=ledger.paid_total,
        waived_total=ledger.waived_total,
        delinquent_since=ledger.run_start if in_delinquency else None,
        max_dpd=ledger.max_dpd,
        charged_off_on=ledger.charged_off_on,
        recovered_after_charge_off=ledger.recovered_after_charge_off,
        penalty_daily_rate=ledger.policy.penalty_daily_rate,
        oldest_past_due_item=None if oldest is None else oldest.item.id,
        items=tuple(_item_state(led, tolerance) for led in ledger.items),
        transitions=tuple(ledger.transitions),
    )


def _item_state(led: ItemLedger, tolerance: Decimal) -> ItemState:
    return ItemState(
        id=led.item.id,
        due_date=led.due_date,
        unpaid_principal=led.unpaid["principal"],
        unpaid_interest=led.unpaid["interest"],
        unpaid_fee=led.unpaid["fee"],
        unpaid_penalty=led.unpaid["penalty"],
        provisional_penalty=led.provisional_penalty,
        penalty_accrued=led.penalty_accrued,
        penalty_days=led.penalty_days,
        paid=led.paid,
        waived=led.waived,
        late_fee_charged=led.late_fee_charged,
        is_open=led.is_open(tolerance),
        closed_by_minimum=led.closed_by_minimum,
        revolved=led.revolved,
    )

"""Month-by-month simulation of one chunk of accounts: bills, loans, decisions, payments.

For each month of the window, in the order things happen to an account:

1. revolving statement on the 1st: the previous month's spending (none while overdue) plus the
   revolved rest of the last bill with its revolving interest → a bill due on the 10th;
2. each account with something due (its bill or installment this month, or arrears) takes an
   action (:mod:`overdue.twin.behaviour`) with a payment date;
3. payments before the due day, credit applied on the due day, payments on the due day, the
   revolving minimum judged at the end of the due day, later payments — each payment first
   accrues penalty in the generator's ledger, then is allocated oldest first.

Bounced payments (a payment plus its reversal), goodwill penalty waivers and backdated entries
(entry date 1–5 days after the value date) are sprinkled in. Events entered after the book's last
date are not in the book yet and are left out.

Every random draw is a full-size array per month, so the same seed gives the same draws whatever
the scenario: a baseline and a downturn book of the same seed hold the same customers and differ
only where the scenario changed a decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from overdue.twin.behaviour import (
    MAX_LATE_DAYS,
    STOPPED_ROW,
    Action,
    Behaviour,
    HabitTables,
    Scenario,
    choose_actions,
)
from overdue.twin.customers import LatentType, Population, TypeMix, draw_population
from overdue.twin.ledger import NEVER, Ledger
from overdue.twin.products import (
    DUE_DAY,
    INSTALLMENT,
    REVOLVING,
    AccountTerms,
    draw_terms,
    revolving_bills,
)
from overdue.twin.schedules import LoanSchedules, loan_schedules
from overdue.twin.seasonality import (
    is_spring_festival_month,
    month_first_day,
    next_pay_day,
    salary_hardship,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

WRITE_OFF_DAYS: Final = {REVOLVING: 180, INSTALLMENT: 120}
REVOLVING_PENALTY_RATE: Final = 5_000  # 0.05 %/day over 10^7
LOAN_PENALTY_FLOOR: Final = 6_000  # jiebei-like preset: 0.04 %/day × 1.5
LOAN_PENALTY_PER_RATE_NUM: Final = 25  # 1.5 × daily rate = rate_num × 25 / 10^7
ZERO_SPEND_SHARE: Final = 0.15
FESTIVAL_SPEND: Final = 1.3
MAX_BACKDATE_DAYS: Final = 5
APPROVERS: Final = ("ops.lead.li", "ops.lead.zhang", "ops.lead.chen")
YUAN: Final = 100
N_DRAWS: Final = 16  # uniform draws per account per month (fixed, for paired scenarios)


@dataclass(frozen=True)
class Window:
    """The history window: ``months`` calendar months from ``first_month`` (a month index)."""

    first_month: int
    months: int

    @property
    def month_first_days(self) -> IntArray:
        """1st of each month of the window and of the month after it (months + 1 values)."""
        return month_first_day(np.arange(self.months + 1, dtype=np.int64) + self.first_month)

    @property
    def first_day(self) -> int:
        return int(self.month_first_days[0])

    @property
    def last_day(self) -> int:
        return int(self.month_first_days[-1] - 1)


@dataclass
class Events:
    """What a chunk emits, as column arrays (account = row within the chunk)."""

    items: dict[str, list[npt.NDArray[np.int64]]] = field(default_factory=dict)
    payments: dict[str, list[npt.NDArray[np.int64]]] = field(default_factory=dict)
    reversals: dict[str, list[npt.NDArray[np.int64]]] = field(default_factory=dict)
    waivers: dict[str, list[npt.NDArray[np.int64]]] = field(default_factory=dict)

    @staticmethod
    def add(store: dict[str, list[npt.NDArray[np.int64]]], **columns: IntArray) -> None:
        sizes = {v.size for v in columns.values()}
        assert len(sizes) == 1, f"columns of one event batch differ in length: {sizes}"
        for name, values in columns.items():
            store.setdefault(name, []).append(values.astype(np.int64, copy=False))

    @staticmethod
    def concat(store: dict[str, list[npt.NDArray[np.int64]]]) -> dict[str, IntArray]:
        return {name: np.concatenate(parts) for name, parts in store.items()}


@dataclass
class ChunkResult:
    population: Population
    terms: AccountTerms
    schedules: LoanSchedules | None
    loan_rows: IntArray
    events: Events
    month_end_dpd: IntArray  # (n, M): -1 not yet open; DPD at each month end (generator view)
    month_end_owes: BoolArray  # (n, M): anything owed or scheduled at the month end
    stop_month_on_book: IntArray


@dataclass
class _State:
    """Per-account counters that are not the ledger."""

    carry: IntArray  # revolving rest to put on the next bill
    last_due: IntArray  # due day of the bill the carry comes from
    payment_count: IntArray
    waiver_count: IntArray
    billed: BoolArray  # revolving: has had a bill (fraud maxes the line on the first one)


class ChunkSimulator:
    """Simulates accounts ``first_account … first_account + n − 1`` over the window."""

    def __init__(
        self,
        seed: int,
        chunk_index: int,
        first_account: int,
        n_accounts: int,
        window: Window,
        behaviour: Behaviour,
        scenario: Scenario,
    ) -> None:
        self.window = window
        self.behaviour = behaviour
        self.scenario = scenario
        self.tables = HabitTables.of(behaviour)
        people_rng = np.random.default_rng([seed, chunk_index, 1])
        self.rng = np.random.default_rng([seed, chunk_index, 2])
        mix: TypeMix = behaviour.mix
        self.pop = draw_population(people_rng, first_account, n_accounts, mix)
        self.terms = draw_terms(people_rng, self.pop, window.month_first_days)
        self.people_rng = people_rng
        self.n = n_accounts
        self.types = self.pop.account_type.astype(np.int64)
        self.revolving = self.terms.product == REVOLVING
        self.open_month = (
            self.terms.opened_on.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
            - window.first_month
        )
        hazard = min(0.99, behaviour.unwilling_stop_hazard * scenario.stop_hazard_multiplier)
        u_stop = people_rng.random(n_accounts)
        self.stop_mob = 1 + np.floor(np.log1p(-u_stop) / np.log1p(-hazard)).astype(np.int64)
        self.events = Events()
        rate = np.where(
            self.revolving,
            REVOLVING_PENALTY_RATE,
            np.maximum(LOAN_PENALTY_FLOOR, self.terms.rate_num * LOAN_PENALTY_PER_RATE_NUM),
        )
        write_off = np.where(self.revolving, WRITE_OFF_DAYS[REVOLVING], WRITE_OFF_DAYS[INSTALLMENT])
        self.ledger = Ledger.empty(n_accounts, window.months, write_off, rate)
        self.state = _State(
            carry=np.zeros(n_accounts, dtype=np.int64),
            last_due=np.zeros(n_accounts, dtype=np.int64),
            payment_count=np.zeros(n_accounts, dtype=np.int64),
            waiver_count=np.zeros(n_accounts, dtype=np.int64),
            billed=np.zeros(n_accounts, dtype=bool),
        )
        self.month_end_dpd = np.full((n_accounts, window.months), -1, dtype=np.int64)
        self.month_end_owes = np.zeros((n_accounts, window.months), dtype=bool)
        self.loan_rows = np.flatnonzero(~self.revolving)
        self.schedules: LoanSchedules | None = None
        self.loan_last_due = np.zeros(n_accounts, dtype=np.int64)
        self._book_loans()

    # -- set-up ---------------------------------------------------------------------------------

    def _book_loans(self) -> None:
        rows = self.loan_rows
        if rows.size == 0:
            return
        t = self.terms
        sched = loan_schedules(
            t.principal_fen[rows], t.rate_num[rows], t.term_months[rows], t.method[rows],
            t.opened_on[rows],
        )  # fmt: skip
        self.schedules = sched
        self.loan_last_due[rows] = sched.due_day.max(axis=1)
        amount = sched.principal_fen + sched.interest_fen
        due_month = sched.due_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        slot = due_month - self.window.first_month
        in_window = (sched.due_day >= 0) & (slot < self.window.months) & (amount > 0)
        row_idx, period = np.nonzero(in_window)
        self.ledger.add_items(
            rows[row_idx], slot[row_idx, period], sched.due_day[row_idx, period],
            amount[row_idx, period],
        )  # fmt: skip
        # Items with nothing to pay (never produced by these products) would need no payment.
        assert np.all(amount[sched.due_day >= 0] > 0)

    # -- the month loop -------------------------------------------------------------------------

    def run(self) -> ChunkResult:
        for month in range(self.window.months):
            self.run_month(month)
        return ChunkResult(
            population=self.pop,
            terms=self.terms,
            schedules=self.schedules,
            loan_rows=self.loan_rows,
            events=self.events,
            month_end_dpd=self.month_end_dpd,
            month_end_owes=self.month_end_owes,
            stop_month_on_book=self.stop_mob,
        )

    def run_month(self, month: int) -> None:
        draws = self.rng.random((N_DRAWS, self.n))
        spend_noise = self.rng.normal(0.0, 0.5, size=self.n)
        first_days = self.window.month_first_days
        first, next_first = int(first_days[month]), int(first_days[month + 1])
        # Payments reach at most 18 days past a due day of this month: the next month's items
        # (a month after) cannot be due yet.
        self.ledger.horizon = month + 1
        self._statements(month, first, draws, spend_noise)
        cycle = self._cycle_days(month, first, next_first)
        has_item = self.ledger.due[:, month] >= 0
        arrears = self.ledger.arrears_count(np.arange(self.n), cycle)
        opened = self.terms.opened_on <= cycle
        active = opened & (has_item | (arrears > 0))
        action = self._decide(month, cycle, arrears, draws)
        pay_day = self._pay_days(action, cycle, arrears > 0, draws)
        pays = active & (action != Action.MISS)
        self._bounced_misses(active & (action == Action.MISS), cycle, month, draws)

        # Payments dated in the previous calendar month (due days on the 1st–5th) come first,
        # and the previous month end's snapshot is retaken for those accounts.
        before_month = pays & (pay_day < first)
        self._pay(before_month, action, pay_day, cycle, month, draws)
        if month > 0 and before_month.any():
            self._snapshot(month - 1, first - 1, np.flatnonzero(before_month))
        self._pay(
            pays & (pay_day >= first) & (pay_day < cycle), action, pay_day, cycle, month, draws
        )
        due_today = np.flatnonzero(has_item)
        self.ledger.apply_credit(due_today, month)
        self._pay(pays & (pay_day == cycle), action, pay_day, cycle, month, draws)
        revolving_bills = np.flatnonzero(has_item & self.revolving)
        carried = self.ledger.judge_minimum(revolving_bills, month)
        self.state.carry[revolving_bills] = carried
        self.state.last_due[revolving_bills] = self.ledger.due[revolving_bills, month]
        last = next_first - 1
        self._pay(
            pays & (pay_day > cycle) & (pay_day <= last), action, pay_day, cycle, month, draws
        )
        self._snapshot(month, last)
        self._pay(pays & (pay_day > last), action, pay_day, cycle, month, draws)

    def _cycle_days(self, month: int, first: int, next_first: int) -> IntArray:
        """The account's day in this month: its item's due day, else its usual due day."""
        due = self.ledger.due[:, month]
        opened = self.terms.opened_on
        open_dom0 = opened - month_first_day(opened.astype("datetime64[D]").astype(
            "datetime64[M]").astype(np.int64))  # fmt: skip
        loan_day = first + np.minimum(open_dom0, next_first - first - 1)
        usual = np.where(self.revolving, first + DUE_DAY - 1, loan_day)
        return np.where(due >= 0, due, usual)

    # -- revolving statements -------------------------------------------------------------------

    def _statements(
        self, month: int, first: int, draws: npt.NDArray[np.float64], noise: npt.NDArray[np.float64]
    ) -> None:
        if month == 0:
            return  # every account opens in the window: no spending before its first month
        rows = np.flatnonzero(self.revolving & (self.terms.opened_on < first))
        if rows.size == 0:
            return
        prev_first = int(self.window.month_first_days[month - 1])
        spend = self._spend(rows, month, first, prev_first, draws, noise)
        carry = self.state.carry[rows]
        principal, interest, minimum_all = revolving_bills(
            carry, spend, first - self.state.last_due[rows]
        )
        billed = principal > 0
        bill_rows = rows[billed]
        amount = (principal + interest)[billed]
        minimum = minimum_all[billed]
        due = np.full(bill_rows.size, first + DUE_DAY - 1, dtype=np.int64)
        self.ledger.add_items(bill_rows, month, due, amount, minimum)
        self.state.carry[rows] = 0
        self.state.billed[bill_rows] = True
        Events.add(
            self.events.items,
            row=bill_rows,
            month=np.full(bill_rows.size, month, dtype=np.int64),
            due_day=due,
            principal_fen=principal[billed],
            interest_fen=interest[billed],
            minimum_fen=minimum,
            entry_day=np.full(bill_rows.size, first, dtype=np.int64),
        )

    def _spend(
        self,
        rows: IntArray,
        month: int,
        first: int,
        prev_first: int,
        draws: npt.NDArray[np.float64],
        noise: npt.NDArray[np.float64],
    ) -> IntArray:
        """Spending during the previous month, none after the account fell overdue."""
        t = self.terms
        start = np.maximum(prev_first, t.opened_on[rows])
        oldest = self.ledger.oldest_open_due(rows, first)
        overdue_since = np.where(oldest == NEVER, first, oldest + 1)
        end = np.minimum(first, overdue_since)
        active_share = np.clip(end - start, 0, None) / float(first - prev_first)
        spent_in = self.window.first_month + month - 1
        festival = FESTIVAL_SPEND if is_spring_festival_month(spent_in) else 1.0
        usual = t.spend_share[rows] * np.exp(noise[rows] - 0.125) * festival
        usual *= self.scenario.spend_multiplier
        usual = np.where(draws[0, rows] < ZERO_SPEND_SHARE, 0.0, usual)
        fraud_first = (self.types[rows] == LatentType.FRAUD) & ~self.state.billed[rows]
        usual = np.where(fraud_first, 0.9 + 0.1 * draws[1, rows], usual)
        share = np.clip(usual * np.where(fraud_first, 1.0, active_share), 0.0, 1.0)
        limit = t.credit_limit_fen[rows]
        spend = (share * 1000).astype(np.int64) * limit // 1000
        room = np.clip(limit - self.state.carry[rows], 0, None)
        spend = np.minimum(spend, room)
        return np.where(spend >= YUAN, spend, 0).astype(np.int64)

    # -- decisions ------------------------------------------------------------------------------

    def _decide(
        self, month: int, cycle: IntArray, arrears: IntArray, draws: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int8]:
        habit_row = self._habit_rows(month)
        festival = is_spring_festival_month(self.window.first_month + month)
        beh = self.behaviour
        hardship = (
            self.scenario.hardship(month)
            * (beh.festival_hardship if festival else 1.0)
            * salary_hardship(cycle)
        )
        return choose_actions(
            self.tables, habit_row, arrears, self.revolving, hardship, draws[2],
            beh.cure_decay, beh.festival_forgetting if festival else 1.0,
        )  # fmt: skip

    def _habit_rows(self, month: int) -> IntArray:
        months_on_book = month - self.open_month
        stopped = (self.types == LatentType.UNWILLING) & (months_on_book >= self.stop_mob)
        return np.where(stopped, STOPPED_ROW, self.types)

    def _pay_days(
        self,
        action: npt.NDArray[np.int8],
        cycle: IntArray,
        in_arrears: BoolArray,
        draws: npt.NDArray[np.float64],
    ) -> IntArray:
        tables = self.tables
        early_max = tables.early_days_max[self.types]
        early = (draws[3] * (early_max + 1)).astype(np.int64)
        mean = tables.late_days_mean[self.types]
        late = 1 + np.floor(np.log1p(-draws[4]) / np.log1p(-1.0 / np.maximum(mean, 1.0001)))
        late = np.clip(late.astype(np.int64), 1, MAX_LATE_DAYS)
        salary = next_pay_day(cycle)
        short = self.types == LatentType.SHORT_OF_MONEY
        salary_late = short & (salary > cycle) & (salary - cycle <= MAX_LATE_DAYS)
        late_day = np.where(salary_late, salary, cycle + late)
        arrears_day = cycle + (draws[5] * 21).astype(np.int64) - 5
        arrears_day = np.where(
            short & (salary - cycle <= 15) & (salary > cycle), salary, arrears_day
        )
        day = np.select(
            [
                np.isin(action, [Action.ON_TIME, Action.MINIMUM]),
                action == Action.LATE,
                (action == Action.PARTIAL) & ~in_arrears,
            ],
            [cycle - early, late_day, np.where(draws[6] < 0.5, cycle - early, late_day)],
            default=arrears_day,
        )
        return np.maximum(day, self.terms.opened_on).astype(np.int64)

    # -- payments -------------------------------------------------------------------------------

    def _pay(
        self,
        selected: BoolArray,
        action: npt.NDArray[np.int8],
        pay_day: IntArray,
        cycle: IntArray,
        month: int,
        draws: npt.NDArray[np.float64],
    ) -> None:
        rows = np.flatnonzero(selected)
        if rows.size == 0:
            return
        led = self.ledger
        day = pay_day[rows]
        act = action[rows]
        waive = (act == Action.CURE) & (draws[7, rows] < self.behaviour.waiver_share)
        if waive.any():
            self._waive(rows[waive], day[waive] - 1, draws[8, rows[waive]])
        led.accrue(rows, day)
        amount = self._amount(rows, act, day, cycle[rows], month, draws)
        full_kind = np.isin(act, [Action.ON_TIME, Action.LATE, Action.CURE])
        overpay = full_kind & ((draws[9, rows] < self.behaviour.overpay_share) | waive)
        amount = np.where(overpay, (amount + YUAN - 1) // YUAN * YUAN, amount)
        paying = amount > 0
        rows, day, amount = rows[paying], day[paying], amount[paying]
        if rows.size == 0:
            return
        habit = self._habit_rows(month)[rows]
        bounce = draws[10, rows] < self.tables.bounce_share[habit]
        if bounce.any():
            gap = 1 + (draws[11, rows[bounce]] * 3).astype(np.int64)
            self._emit_bounced(rows[bounce], day[bounce] - gap, amount[bounce], gap)
            gives_up = draws[12, rows[bounce]] >= self.behaviour.repay_after_bounce
            keep = np.ones(rows.size, dtype=bool)
            keep[np.flatnonzero(bounce)[gives_up]] = False
            rows, day, amount = rows[keep], day[keep], amount[keep]
            if rows.size == 0:
                return
        self._emit_payment(rows, day, amount, draws)
        led.pay(rows, day, amount)

    def _amount(
        self,
        rows: IntArray,
        act: npt.NDArray[np.int8],
        day: IntArray,
        cycle: IntArray,
        month: int,
        draws: npt.NDArray[np.float64],
    ) -> IntArray:
        led = self.ledger
        through = np.maximum(day, cycle)
        credit = led.credit[rows]
        full = np.clip(led.owed_through(rows, through) - credit, 0, None)
        arrears = led.owed_through(rows, cycle - 1)
        has_minimum = led.minimum[rows, month] >= 0
        min_left = np.clip(led.minimum[rows, month] - led.paid[rows, month] - credit, 0, None)
        minimum = arrears + np.where(has_minimum, min_left, full - arrears)
        share = 0.2 + 0.6 * draws[13, rows]
        partial_of = np.where(has_minimum & (arrears == 0), min_left, full)
        partial = (share * (partial_of // YUAN)).astype(np.int64) * YUAN
        partial = np.where(partial >= partial_of, partial_of // 2, partial)
        partial = np.where((partial <= 0) & (partial_of > 1), partial_of // 2, partial)
        hold = led.oldest_remaining(rows, day)
        amount = np.select(
            [
                np.isin(act, [Action.ON_TIME, Action.LATE, Action.CURE]),
                act == Action.MINIMUM,
                act == Action.PARTIAL,
                act == Action.HOLD,
            ],
            [full, minimum, partial, np.where(hold > 0, hold, full)],
            default=0,
        )
        return np.clip(amount, 0, None).astype(np.int64)

    def _waive(self, rows: IntArray, day: IntArray, draw: npt.NDArray[np.float64]) -> None:
        led = self.ledger
        led.accrue(rows, day)
        penalty = led.penalty_through(rows, day)
        amount = ((0.3 + 0.5 * draw) * penalty).astype(np.int64)
        ok = amount >= YUAN
        rows, day, amount = rows[ok], day[ok], amount[ok]
        if rows.size == 0:
            return
        led.waive_penalty(rows, day, amount)
        self.state.waiver_count[rows] += 1
        Events.add(
            self.events.waivers,
            row=rows,
            number=self.state.waiver_count[rows],
            value_day=day,
            entry_day=day,
            amount_fen=amount,
            approver=(draw[ok] * 1000).astype(np.int64) % len(APPROVERS),
        )

    def _entry_days(
        self, rows: IntArray, day: IntArray, draws: npt.NDArray[np.float64]
    ) -> IntArray:
        backdated = draws[14, rows] < self.behaviour.backdated_share
        lag = 1 + (draws[15, rows] * MAX_BACKDATE_DAYS).astype(np.int64)
        return day + np.where(backdated, lag, 0)

    def _emit_payment(
        self, rows: IntArray, day: IntArray, amount: IntArray, draws: npt.NDArray[np.float64]
    ) -> None:
        self.state.payment_count[rows] += 1
        Events.add(
            self.events.payments,
            row=rows,
            number=self.state.payment_count[rows],
            value_day=day,
            entry_day=self._entry_days(rows, day, draws),
            amount_fen=amount,
        )

    def _emit_bounced(self, rows: IntArray, day: IntArray, amount: IntArray, gap: IntArray) -> None:
        """A payment that bounced: booked on ``day``, reversed ``gap`` days later at most."""
        day = np.maximum(day, self.terms.opened_on[rows])
        self.state.payment_count[rows] += 1
        number = self.state.payment_count[rows]
        Events.add(
            self.events.payments, row=rows, number=number, value_day=day, entry_day=day,
            amount_fen=amount,
        )  # fmt: skip
        reversal_day = day + np.maximum(1, gap - 1)
        Events.add(
            self.events.reversals, row=rows, number=number, value_day=reversal_day,
            entry_day=reversal_day,
        )  # fmt: skip

    def _bounced_misses(
        self, missing: BoolArray, cycle: IntArray, month: int, draws: npt.NDArray[np.float64]
    ) -> None:
        """Some who pay nothing did try: a payment that bounced and was reversed."""
        habit = self._habit_rows(month)
        rows = np.flatnonzero(missing & (draws[10] < self.tables.bounce_share[habit]))
        if rows.size == 0:
            return
        owed = self.ledger.owed_through(rows, cycle[rows])
        ok = owed > 0
        rows = rows[ok]
        gap = 1 + (draws[11, rows] * 3).astype(np.int64)
        self._emit_bounced(rows, cycle[rows], owed[ok], gap)

    # -- month end ------------------------------------------------------------------------------

    def _snapshot(self, month: int, last: int, rows: IntArray | None = None) -> None:
        """Month-end DPD and "owes anything" (all accounts, or only ``rows``)."""
        led = self.ledger
        rows = np.arange(self.n) if rows is None else rows
        dpd = led.dpd(rows, last)
        opened = self.terms.opened_on[rows] <= last
        scheduled = self.loan_last_due[rows] > last
        owes = (led.remaining[rows] > 0).any(axis=1) | scheduled | (self.state.carry[rows] > 0)
        self.month_end_dpd[rows, month] = np.where(opened, dpd, -1)
        self.month_end_owes[rows, month] = opened & owes


def simulate_chunk(
    seed: int,
    chunk_index: int,
    first_account: int,
    n_accounts: int,
    window: Window,
    behaviour: Behaviour,
    scenario: Scenario,
) -> tuple[ChunkSimulator, ChunkResult]:
    sim = ChunkSimulator(seed, chunk_index, first_account, n_accounts, window, behaviour, scenario)
    return sim, sim.run()

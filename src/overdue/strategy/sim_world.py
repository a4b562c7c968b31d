"""One strategy's simulated world: what customers do with the contacts they get, day by day.

Each simulated day E, in order:

1. the contacts the daily run planned (and the gate allowed) for E reach the customers: the
   response model (:mod:`overdue.twin.response`) says who is connected, who promises, who pays
   (today or after a delay), who complains or leaves; a delivered reminder to a customer who is
   not overdue is remembered for ``REMINDER_MEMORY_DAYS``;
2. without contact: an item falling due on E is paid on E or not (a recent reminder rescues the
   forgetful), an overdue account may cure by itself;
3. the day's payments are booked into the book (``payments/entry_date=E/part-0.parquet``, the
   book's layout) so that the end-of-day batch of E sees them.

Money is integer fen throughout; a payment of an overdue account is its total overdue plus a
small margin for the penalty of the payment day (the surplus becomes a credit balance).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.portfolio.book_layout import PART_FILE, PARTITION_PREFIX
from overdue.strategy.sim_book import OPT_OUT_AFTER_COMPLAINT, People
from overdue.twin.response import (
    CHANNEL_INDEX,
    CHANNEL_TABLE,
    CHANNELS,
    FATIGUE_WINDOW_DAYS,
    TONE_INDEX,
    ContactInput,
    cures_today,
    pays_on_due_date,
    respond,
    self_pay_share,
    uniforms,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

REMINDER_MEMORY_DAYS: Final = 5
PENALTY_MARGIN_DIVISOR: Final = 500  # pay total overdue + 0.2 % (+1 yuan): covers a day's penalty
PENALTY_MARGIN_FEN: Final = 100
MAX_PENDING_DAYS: Final = 30
UNPAID_COLUMNS: Final = ("unpaid_principal_fen", "unpaid_interest_fen", "unpaid_fee_fen")
COST_FEN: Final = np.array([CHANNEL_TABLE[c].cost_fen for c in CHANNELS], dtype=np.int64)


@dataclass
class Tally:
    """Per-customer totals of one run (the summary's raw material)."""

    n: int
    recovered_fen: IntArray = field(init=False)
    paid_on_due_fen: IntArray = field(init=False)
    cost_fen: IntArray = field(init=False)
    contacts: IntArray = field(init=False)
    connected: IntArray = field(init=False)
    right_party: IntArray = field(init=False)
    promises: IntArray = field(init=False)
    blocked: IntArray = field(init=False)
    complaints: IntArray = field(init=False)
    left: BoolArray = field(init=False)

    def __post_init__(self) -> None:
        for name in ("recovered_fen", "paid_on_due_fen", "cost_fen", "contacts", "connected",
                     "right_party", "promises", "blocked", "complaints"):  # fmt: skip
            setattr(self, name, np.zeros(self.n, dtype=np.int64))
        self.left = np.zeros(self.n, dtype=np.bool_)


@dataclass
class DayState:
    """What the world needs of one snapshot (rows in account-id order)."""

    dpd: IntArray
    total_overdue_fen: IntArray
    due_today_fen: IntArray  # unpaid amount of items falling due on the day simulated

    bucket_cn: npt.NDArray[np.object_]  # "" for accounts not in the snapshot yet

    @staticmethod
    def read(snapshots: Path, as_of: date, day: date, account_ids: pa.Array) -> DayState:
        """:meth:`of` the snapshot of ``as_of``, reading only the columns it needs from the
        snapshot's files (accounts and the items side table), without nesting the items."""
        from overdue.portfolio.eod import snapshot_files, snapshot_item_files
        from overdue.portfolio.kernel import ACCOUNT_STATE_SCHEMA, ITEM_ROW_SCHEMA

        n = len(account_ids)
        accounts = pq.read_table(
            snapshot_files(snapshots, as_of),
            schema=ACCOUNT_STATE_SCHEMA,
            columns=["account_id", "dpd", "total_overdue_fen", "bucket_cn"],
        )
        _at, dpd, overdue, bucket = _account_columns(accounts, account_ids)
        due_today = np.zeros(n, dtype=np.int64)
        files = snapshot_item_files(snapshots, as_of)
        if files:
            columns = ["account_id", "due_date", *UNPAID_COLUMNS]
            items = pq.read_table(files, schema=ITEM_ROW_SCHEMA, columns=columns)
            due = pc.equal(items["due_date"], pa.scalar(day, pa.date32()))
            picked = items.filter(pc.fill_null(due, False))
            if picked.num_rows:
                owner = pc.index_in(picked["account_id"], value_set=account_ids)
                assert owner.null_count == 0, "every item's account is a book account"
                unpaid = np.zeros(picked.num_rows, dtype=np.int64)
                for name in UNPAID_COLUMNS:
                    unpaid += picked[name].to_numpy(zero_copy_only=False).astype(np.int64)
                owners = np.asarray(owner.to_numpy(zero_copy_only=False), dtype=np.int64)
                np.add.at(due_today, owners, unpaid)
        return DayState(
            dpd=dpd, total_overdue_fen=overdue, due_today_fen=due_today, bucket_cn=bucket
        )

    @staticmethod
    def of(snapshot: pa.Table, day: date, account_ids: pa.Array) -> DayState:
        """The state of every account of ``account_ids`` (absent from the snapshot: nothing due)."""
        n = len(account_ids)
        at, dpd, overdue, bucket = _account_columns(snapshot, account_ids)
        items = snapshot["items"].combine_chunks()
        flat = pc.list_flatten(items)
        parent = at[pc.list_parent_indices(items).to_numpy(zero_copy_only=False)]
        due = pc.equal(flat.field("due_date"), pa.scalar(day, pa.date32()))
        due_np = np.asarray(due.to_numpy(zero_copy_only=False), dtype=np.bool_)
        unpaid = np.zeros(len(flat), dtype=np.int64)
        for name in UNPAID_COLUMNS:
            unpaid += flat.field(name).to_numpy(zero_copy_only=False).astype(np.int64)
        due_today = np.zeros(n, dtype=np.int64)
        np.add.at(due_today, parent[due_np], unpaid[due_np])
        return DayState(
            dpd=dpd, total_overdue_fen=overdue, due_today_fen=due_today, bucket_cn=bucket
        )


def _account_columns(
    accounts: pa.Table, account_ids: pa.Array
) -> tuple[IntArray, IntArray, IntArray, npt.NDArray[np.object_]]:
    """The snapshot rows' positions among ``account_ids`` and their DPD, total overdue and
    bucket spread over every account (accounts absent from the snapshot: 0, 0, "")."""
    n = len(account_ids)
    rows = pc.index_in(accounts["account_id"], value_set=account_ids)
    assert rows.null_count == 0, "every snapshot account is a book account"
    at = np.asarray(rows.to_numpy(zero_copy_only=False), dtype=np.int64)
    dpd = np.zeros(n, dtype=np.int64)
    dpd[at] = accounts["dpd"].to_numpy(zero_copy_only=False)
    overdue = np.zeros(n, dtype=np.int64)
    overdue[at] = accounts["total_overdue_fen"].to_numpy(zero_copy_only=False)
    bucket = np.full(n, "", dtype=object)
    bucket[at] = np.array(accounts["bucket_cn"].to_pylist(), dtype=object)
    return at, dpd, overdue, bucket


@dataclass
class SentBatch:
    """Sent contacts of one day and what came of them (for contacts.csv and the history)."""

    contacts: pa.Table  # the gate's rows that were allowed
    connected: BoolArray
    right_party: BoolArray
    conversation: BoolArray
    promise: BoolArray
    pays: BoolArray
    complaint: BoolArray
    outcome: list[str]


class World:
    """The simulated customers of one strategy run."""

    def __init__(self, people: People, flags: dict[str, BoolArray], seed: int, book: Path) -> None:
        self.people = people
        self.flags = flags
        self.seed = seed
        self.book = book
        assert pc.count_distinct(people.account_id).as_py() == people.n_accounts, "unique ids"
        self.last_reminded = np.full(people.n_accounts, -(10**6), dtype=np.int64)
        self.delivered = np.zeros((FATIGUE_WINDOW_DAYS, people.n_customers), dtype=np.int64)
        self.pending: dict[int, list[tuple[IntArray, FloatArray]]] = defaultdict(list)
        self.tally = Tally(people.n_customers)
        self.flag_events: list[tuple[str, str, str]] = []  # (UTC instant, customer_id, flag)
        self.promised_until = np.full(people.n_accounts, -(10**6), dtype=np.int64)
        self.broken: dict[int, list[IntArray]] = defaultdict(list)
        self.paid_log: list[tuple[int, IntArray, IntArray, IntArray]] = []  # day, rows, fen

    # -- contacts -----------------------------------------------------------------------------

    def contacts_reach(
        self, sent: pa.Table, state: DayState, day: date, local_hour: IntArray
    ) -> SentBatch:
        """Apply the response model to the allowed contacts of ``day``."""
        od = day.toordinal()
        acct = self._accounts(sent["account_id"])
        cust = self.people.account_customer[acct]
        keys = _contact_keys(sent["contact_id"])
        channel = np.array([CHANNEL_INDEX[c] for c in sent["channel"].to_pylist()], np.int64)
        tone = np.array([TONE_INDEX.get(t, 0) for t in sent["tone"].to_pylist()], np.int64)
        third = np.asarray(pc.equal(sent["recipient_kind"], "third_party").to_numpy(
            zero_copy_only=False), dtype=np.bool_)  # fmt: skip
        recent = self.delivered.sum(axis=0)[cust]
        out = respond(
            ContactInput(
                key=keys,
                channel=channel,
                tone=tone,
                local_hour=local_hour,
                recent_contacts=recent,
                dpd=state.dpd[acct],
                latent_type=self.people.latent_type[cust],
                third_party=third,
            ),
            self.seed,
            od,
        )
        np.add.at(self.delivered[od % FATIGUE_WINDOW_DAYS], cust[out.connected], 1)
        overdue = state.dpd[acct] > 0
        reminded = out.right_party & ~overdue
        self.last_reminded[acct[reminded]] = od
        # Today's batch has run: money comes tomorrow at the earliest (+ the promised delay).
        pay_day = od + 1 + out.delay_days
        paying = out.pays & overdue
        for when in np.unique(pay_day[paying]):
            pick = paying & (pay_day == when)
            self.pending[int(when)].append((acct[pick], out.pay_share[pick]))
        promised = out.promise & overdue
        np.maximum.at(self.promised_until, acct[promised], pay_day[promised])
        broken = promised & ~out.pays
        for when in np.unique(pay_day[broken]):
            self.broken[int(when) + 1].append(acct[broken & (pay_day == when)])
        t = self.tally
        np.add.at(t.contacts, cust, 1)
        np.add.at(t.cost_fen, cust, COST_FEN[channel])
        np.add.at(t.connected, cust, out.connected.astype(np.int64))
        np.add.at(t.right_party, cust, out.right_party.astype(np.int64))
        np.add.at(t.promises, cust, out.promise.astype(np.int64))
        np.add.at(t.complaints, cust, out.complaint.astype(np.int64))
        t.left[cust[out.attrition]] = True
        instant = sent["planned_at_utc"][0].as_py().isoformat()
        self._opt_outs(cust, channel, out.complaint, od, instant)
        outcome = _outcomes(out.connected, out.right_party, out.conversation, out.promise,
                            third, out.complaint)  # fmt: skip
        return SentBatch(sent, out.connected, out.right_party, out.conversation, out.promise,
                         out.pays, out.complaint, outcome)  # fmt: skip

    def _opt_outs(self, cust: IntArray, channel: IntArray, complaint: BoolArray, od: int,
                  instant: str) -> None:  # fmt: skip
        """A complaint ends, half the time, in an opt-out of its channel from that instant."""
        if not complaint.any():
            return
        draws = uniforms(self.seed, od, self.people.customer_key[cust], 300)
        for i in np.flatnonzero(complaint & (draws < OPT_OUT_AFTER_COMPLAINT)):
            name = f"opt_out_{CHANNELS[int(channel[i])]}"
            if not self.flags[name][cust[i]]:
                self.flags[name][cust[i]] = True
                cid = str(self.people.customer_id[int(cust[i])].as_py())
                self.flag_events.append((instant, cid, name))

    def payments_log(self) -> pa.Table:
        """Every account's payments by day: recovered (past due) and paid on the due date."""
        days = [np.full(rows.size, od, dtype=np.int64) for od, rows, _, _ in self.paid_log]
        rows = [r for _, r, _, _ in self.paid_log]
        empty = np.zeros(0, dtype=np.int64)
        at = np.concatenate(rows) if rows else empty
        ordinal = np.concatenate(days) if days else empty
        epoch = date(1970, 1, 1).toordinal()
        return pa.table(
            {
                "account_id": self.people.account_id.take(pa.array(at, pa.int64())),
                "day": pa.array((ordinal - epoch).astype("datetime64[D]"), pa.date32()),
                "recovered_fen": pa.array(
                    np.concatenate([r for *_, r, _ in self.paid_log]) if rows else empty
                ),
                "paid_on_due_date_fen": pa.array(
                    np.concatenate([p for *_, p in self.paid_log]) if rows else empty
                ),
            }
        )

    def history_state(self, day: date) -> pa.Table:
        """``account_id, promise_pending`` for the decisions of ``day``."""
        pending = self.promised_until >= day.toordinal()
        return pa.table({"account_id": self.people.account_id, "promise_pending": pending})

    def events(self, day: date) -> pa.Table:
        """Broken promises noticed on ``day`` (the promised day passed without payment)."""
        od = day.toordinal()
        accts = self.broken.pop(od, [])
        rows = np.unique(np.concatenate(accts)) if accts else np.zeros(0, dtype=np.int64)
        return pa.table(
            {
                "account_id": self.people.account_id.take(pa.array(rows, pa.int64())),
                "kind": pa.array(["promise_broken"] * rows.size, pa.string()),
                "on_date": pa.array(np.full(rows.size, day), type=pa.date32()),
            }
        )

    def blocked(self, attempts: pa.Table) -> None:
        cust = self.people.account_customer[self._accounts(attempts["account_id"])]
        np.add.at(self.tally.blocked, cust, 1)

    # -- payments -----------------------------------------------------------------------------

    def pay_day(self, state: DayState, day: date) -> pa.Table:
        """Everything paid on ``day``; booked into the book and tallied. Returns the payments."""
        od = day.toordinal()
        people = self.people
        cust = people.account_customer
        kind = people.latent_type[cust]
        keys = people.customer_key[cust] * 4 + np.arange(people.n_accounts) % 4
        share = np.zeros(people.n_accounts)
        overdue = state.dpd > 0
        for acct, part in self.pending.pop(od, []):
            share[acct] = np.maximum(share[acct], part)
        cured = cures_today(kind, state.dpd, self.seed, od, keys) & overdue
        share = np.where(cured, np.maximum(share, self_pay_share(kind, self.seed, od, keys)), share)
        share = np.where(overdue, share, 0.0)
        owed = state.total_overdue_fen
        margin = owed // PENALTY_MARGIN_DIVISOR + PENALTY_MARGIN_FEN
        recover = np.where(share >= 1.0, owed + margin, np.floor(share * owed)).astype(np.int64)
        recover = np.where(owed > 0, recover, 0)
        due = state.due_today_fen > 0
        reminded = (od - self.last_reminded) <= REMINDER_MEMORY_DAYS
        on_time = due & pays_on_due_date(kind, reminded, self.seed, od, keys) & (recover == 0)
        on_due = np.where(on_time, state.due_today_fen, 0)
        np.add.at(self.tally.recovered_fen, cust, np.minimum(recover, owed))
        np.add.at(self.tally.paid_on_due_fen, cust, on_due)
        amount = recover + on_due
        paid = np.flatnonzero(amount > 0)
        self.paid_log.append((od, paid, np.minimum(recover, owed)[paid], on_due[paid]))
        payments = self._payments_table(amount, day)
        self._book(payments, day)
        self.delivered[(od + 1) % FATIGUE_WINDOW_DAYS] = 0  # the window moves on tomorrow
        pending_days = [d for d in self.pending if d > od + MAX_PENDING_DAYS]
        assert not pending_days, f"payments promised too far ahead: {pending_days}"
        return payments

    def _payments_table(self, amount: IntArray, day: date) -> pa.Table:
        paying = np.flatnonzero(amount > 0)
        ids = self.people.account_id.take(pa.array(paying))
        od = day.toordinal()
        payment_ids = pc.binary_join_element_wise(f"SIM{day.isoformat()}-", ids, "")
        seq = (np.int64(od) << np.int64(40)) | np.arange(paying.size, dtype=np.int64)
        return pa.table(
            {
                "payment_id": payment_ids,
                "account_id": ids,
                "value_date": pa.array(np.full(paying.size, day), type=pa.date32()),
                "amount_fen": pa.array(amount[paying], type=pa.int64()),
                "entry_seq": pa.array(seq, type=pa.int64()),
            }
        )

    def _book(self, payments: pa.Table, day: date) -> None:
        folder = self.book / "payments" / f"{PARTITION_PREFIX}{day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(payments, folder / PART_FILE)

    def _accounts(self, ids: pa.ChunkedArray | pa.Array) -> IntArray:
        """Each id's row in the book's accounts (every id is a book account)."""
        rows = pc.index_in(ids, value_set=self.people.account_id)
        assert rows.null_count == 0, "contacts name accounts missing from the book"
        return np.asarray(rows.to_numpy(zero_copy_only=False), dtype=np.int64)


def _contact_keys(ids: pa.ChunkedArray | pa.Array) -> IntArray:
    """The first 15 hex digits of each contact id as an integer (ids are sha256 hex)."""
    head = pc.utf8_slice_codeunits(ids, 0, 15).to_pylist()
    return np.array([int(h, 16) for h in head], dtype=np.int64)


def _outcomes(connected: BoolArray, right_party: BoolArray, conversation: BoolArray,
              promise: BoolArray, third: BoolArray, complaint: BoolArray) -> list[str]:  # fmt: skip
    out = np.where(connected, "delivered", "not_connected").astype(object)
    out = np.where(connected & third, "third_party", out)
    out = np.where(connected & ~right_party & ~third, "wrong_party", out)
    out = np.where(conversation, "conversation", out)
    out = np.where(promise, "promise_to_pay", out)
    out = np.where(complaint, "complaint", out)
    return [str(x) for x in out]

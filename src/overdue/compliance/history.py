"""Contact history: every attempt and its outcome, across the lender and its agencies.

The caps of a profile count what happened to a debtor, a number or a debt on a local day,
whoever made the contact, so the lender's dialler, its robots and every agency report into one
:class:`ContactHistory`. It is an in-memory, Arrow-backed store partitioned by the debtor's
local day, with :meth:`ContactHistory.save` / :meth:`ContactHistory.load` to Parquet. Blocked
attempts are kept apart, each with the rule that blocked it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from overdue.compliance.clock import local_parts

MAX_RECORD_ROWS: Final = 50_000_000
LENDER: Final = "lender"

ATTEMPT_SCHEMA: Final = pa.schema(
    [
        ("contact_id", pa.string()),
        ("customer_id", pa.string()),
        ("account_id", pa.string()),
        ("channel", pa.string()),
        ("to_address", pa.string()),
        ("recipient_kind", pa.string()),  # debtor | third_party
        ("attempted_at_utc", pa.timestamp("us", tz="UTC")),
        ("time_zone", pa.string()),
        ("local_date", pa.date32()),  # the debtor's local date of the attempt
        ("source", pa.string()),  # "lender" or the agency's name
        ("connected", pa.bool_()),
        ("right_party", pa.bool_()),
        ("conversation", pa.bool_()),
        ("outcome", pa.string()),
    ]
)
BLOCKED_SCHEMA: Final = pa.schema(
    [
        ("contact_id", pa.string()),
        ("customer_id", pa.string()),
        ("account_id", pa.string()),
        ("channel", pa.string()),
        ("to_address", pa.string()),
        ("recipient_kind", pa.string()),
        ("planned_at_utc", pa.timestamp("us", tz="UTC")),
        ("time_zone", pa.string()),
        ("local_date", pa.date32()),
        ("source", pa.string()),
        ("blocked_rule", pa.string()),
    ]
)
REQUIRED: Final = (
    "customer_id",
    "account_id",
    "channel",
    "to_address",
    "attempted_at_utc",
    "time_zone",
    "connected",
)


def _bool_column(table: pa.Table, name: str, default: pa.Array) -> pa.Array:
    if name in table.column_names:
        return pc.fill_null(table.column(name).combine_chunks(), False)
    return default


def normalise_attempts(outcomes: pa.Table) -> pa.Table:
    """Outcome rows in :data:`ATTEMPT_SCHEMA`, with the documented defaults.

    Required: customer_id, account_id, channel, to_address, attempted_at_utc (or a planned
    contact's planned_at_utc), time_zone, connected. Defaults: recipient_kind "debtor", source "lender", right_party = connected and a
    debtor, conversation = a right-party call that connected, outcome "", contact_id "".
    """
    if (
        "attempted_at_utc" not in outcomes.column_names
        and "planned_at_utc" in outcomes.column_names
    ):
        # a planned contact made at its planned instant
        outcomes = outcomes.append_column("attempted_at_utc", outcomes.column("planned_at_utc"))
    missing = [c for c in REQUIRED if c not in outcomes.column_names]
    if missing:
        raise ValueError(f"contact outcomes lack column(s) {', '.join(missing)}")
    n = outcomes.num_rows
    assert n <= MAX_RECORD_ROWS, f"{n} outcome rows in one call exceed {MAX_RECORD_ROWS}"
    utc = pc.cast(outcomes.column("attempted_at_utc"), pa.timestamp("us", tz="UTC"))
    utc_us = pc.cast(utc, pa.int64()).to_numpy(zero_copy_only=False)
    day, _ = local_parts(utc_us, outcomes.column("time_zone"))

    def text(name: str, default: str) -> pa.Array:
        if name in outcomes.column_names:
            return pc.fill_null(pc.cast(outcomes.column(name), pa.string()), default)
        return pa.array([default] * n, type=pa.string())

    recipient = text("recipient_kind", "debtor")
    connected = pc.fill_null(outcomes.column("connected").combine_chunks(), False)
    debtor = pc.equal(recipient, "debtor")
    right_party = _bool_column(outcomes, "right_party", pc.and_(connected, debtor))
    calls = pc.is_in(outcomes.column("channel"), value_set=pa.array(["voice_robot", "voice_agent"]))
    conversation = _bool_column(outcomes, "conversation", pc.and_(right_party, calls))
    columns = {
        "contact_id": text("contact_id", ""),
        "customer_id": outcomes.column("customer_id"),
        "account_id": outcomes.column("account_id"),
        "channel": outcomes.column("channel"),
        "to_address": outcomes.column("to_address"),
        "recipient_kind": recipient,
        "attempted_at_utc": utc,
        "time_zone": outcomes.column("time_zone"),
        "local_date": pa.array(day.astype(np.int32), type=pa.int32()).cast(pa.date32()),
        "source": text("source", LENDER),
        "connected": connected,
        "right_party": right_party,
        "conversation": conversation,
        "outcome": text("outcome", ""),
    }
    return pa.table(columns).select(ATTEMPT_SCHEMA.names).cast(ATTEMPT_SCHEMA)


class ContactHistory:
    """Attempts (with outcomes) and blocked attempts, partitioned by the debtor's local day."""

    def __init__(self, *, keep_blocked: bool = True) -> None:
        self._attempts: dict[int, list[pa.Table]] = defaultdict(list)
        self._blocked: list[pa.Table] = []
        # False: blocked attempts are counted by the caller only (a long simulation keeps
        # millions of them, and no rule counts them)
        self.keep_blocked = keep_blocked

    # --- writing ---------------------------------------------------------------------------

    def record(self, outcomes: pa.Table) -> int:
        """Add attempts with their outcomes (see :func:`normalise_attempts`); returns the count."""
        table = normalise_attempts(outcomes)
        if table.num_rows == 0:
            return 0
        days = pc.cast(table.column("local_date"), pa.int32()).to_numpy(zero_copy_only=False)
        for day in np.unique(days):
            self._attempts[int(day)].append(table.filter(pa.array(days == day)))
        return table.num_rows

    def record_blocked(self, checked: pa.Table, source: str = LENDER) -> int:
        """Keep the rows of a gate result that were blocked, with their rule."""
        blocked = checked.filter(pc.invert(checked.column("allowed")))
        if blocked.num_rows == 0 or not self.keep_blocked:
            return blocked.num_rows
        utc = pc.cast(blocked.column("planned_at_utc"), pa.int64()).to_numpy(zero_copy_only=False)
        day, _ = local_parts(utc, blocked.column("time_zone"))
        table = (
            pa.table(
                {
                    **{
                        name: blocked.column(name)
                        for name in BLOCKED_SCHEMA.names
                        if name in blocked.column_names
                    },
                    "local_date": pa.array(day.astype(np.int32)).cast(pa.date32()),
                    "source": pa.array([source] * blocked.num_rows, type=pa.string()),
                }
            )
            .select(BLOCKED_SCHEMA.names)
            .cast(BLOCKED_SCHEMA)
        )
        self._blocked.append(table)
        return table.num_rows

    def forget_before(self, first_day: int) -> None:
        """Drop the attempts of local days before ``first_day`` (no rule looks that far back
        any more: bounds the memory of a long run)."""
        for day in [d for d in self._attempts if d < first_day]:
            del self._attempts[day]

    # --- reading ---------------------------------------------------------------------------

    def window(self, first_day: int, last_day: int) -> pa.Table:
        """Attempts whose local day number (days since 1970-01-01) is in [first, last]."""
        parts = [
            t
            for day in sorted(self._attempts)
            if first_day <= day <= last_day
            for t in self._attempts[day]
        ]
        if not parts:
            return ATTEMPT_SCHEMA.empty_table()
        return pa.concat_tables(parts)

    def attempts(self) -> pa.Table:
        parts = [t for day in sorted(self._attempts) for t in self._attempts[day]]
        return pa.concat_tables(parts) if parts else ATTEMPT_SCHEMA.empty_table()

    def blocked(self) -> pa.Table:
        return pa.concat_tables(self._blocked) if self._blocked else BLOCKED_SCHEMA.empty_table()

    def blocked_by_rule(self) -> dict[str, int]:
        table = self.blocked()
        if table.num_rows == 0:
            return {}
        counts = table.group_by("blocked_rule").aggregate([("blocked_rule", "count")])
        return dict(
            zip(
                counts.column("blocked_rule").to_pylist(),
                counts.column("blocked_rule_count").to_pylist(),
                strict=True,
            )
        )

    @property
    def num_attempts(self) -> int:
        return sum(t.num_rows for parts in self._attempts.values() for t in parts)

    # --- files -----------------------------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write ``attempts.parquet`` and ``blocked.parquet`` into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(self.attempts(), out / "attempts.parquet")
        pq.write_table(self.blocked(), out / "blocked.parquet")

    @classmethod
    def load(cls, directory: str | Path) -> ContactHistory:
        folder = Path(directory)
        history = cls()
        attempts = pq.read_table(folder / "attempts.parquet").cast(ATTEMPT_SCHEMA)
        days = pc.cast(attempts.column("local_date"), pa.int32()).to_numpy(zero_copy_only=False)
        for day in np.unique(days):
            history._attempts[int(day)].append(attempts.filter(pa.array(days == day)))
        blocked_path = folder / "blocked.parquet"
        if blocked_path.exists():
            history._blocked.append(pq.read_table(blocked_path).cast(BLOCKED_SCHEMA))
        return history

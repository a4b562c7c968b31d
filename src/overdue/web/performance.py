"""Team and collector performance for the manager dashboard (read-only aggregates, no personal data).

Over a window of ``window_days`` business days ending at the store's business date (the latest
``cases.updated_on``): contacts, right-party contacts, promises made, kept rate (kept / decided),
amount collected (payments on the accounts of the cases each collector holds) and complaints.
Only roles that see the whole book (admin, manager, analyst, auditor) are shown these figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

WINDOW_DAYS = 30
MAX_ROWS = 200


@dataclass(frozen=True)
class Row:
    key: int | None
    name: str
    contacts: int
    right_party: int
    promises: int
    kept: int
    decided: int
    collected_fen: int
    complaints: int

    @property
    def kept_rate(self) -> float | None:
        return self.kept / self.decided if self.decided else None


@dataclass(frozen=True)
class Today:
    as_of: date | None
    open_cases: int
    opened_today: int
    promises_due: int
    contacts_today: int
    collected_today_fen: int
    open_complaints: int
    overdue_open_fen: int


def _t(name: str) -> sa.Table:
    from overdue.store.tables import Base

    return Base.metadata.tables[name]


def business_date(conn: Connection) -> date | None:
    cases = _t("cases")
    return conn.execute(sa.select(sa.func.max(cases.c.updated_on))).scalar_one_or_none()


def _instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def today(conn: Connection) -> Today:
    cases, promises, contacts = _t("cases"), _t("promises"), _t("contact_attempts")
    payments, complaints = _t("payments"), _t("complaints")
    as_of = business_date(conn)
    if as_of is None:
        return Today(None, 0, 0, 0, 0, 0, 0, 0)
    start, end = _instant(as_of), _instant(as_of + timedelta(days=1))
    open_ = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(cases.c.overdue_fen), 0)).where(
            cases.c.status != "closed"
        )
    ).one()
    scalar = conn.execute
    return Today(
        as_of=as_of,
        open_cases=int(open_[0]),
        overdue_open_fen=int(open_[1]),
        opened_today=int(
            scalar(sa.select(sa.func.count()).where(cases.c.opened_on == as_of)).scalar_one()
        ),
        promises_due=int(
            scalar(
                sa.select(sa.func.count()).where(
                    promises.c.promised_date == as_of, promises.c.status == "pending"
                )
            ).scalar_one()
        ),
        contacts_today=int(
            scalar(
                sa.select(sa.func.count()).where(
                    contacts.c.attempted_at >= start, contacts.c.attempted_at < end
                )
            ).scalar_one()
        ),
        collected_today_fen=int(
            scalar(
                sa.select(sa.func.coalesce(sa.func.sum(payments.c.amount_fen), 0)).where(
                    payments.c.value_date == as_of
                )
            ).scalar_one()
        ),
        open_complaints=int(
            scalar(sa.select(sa.func.count()).where(complaints.c.status == "open")).scalar_one()
        ),
    )


def _by(conn: Connection, statement: sa.Select[Any]) -> dict[int | None, int]:
    return {row[0]: int(row[1] or 0) for row in conn.execute(statement).all()}


def collectors(conn: Connection, as_of: date, window_days: int = WINDOW_DAYS) -> list[Row]:
    """One row per collector or agency user, busiest first."""
    assert 1 <= window_days <= 366
    users, contacts, promises = _t("users"), _t("contact_attempts"), _t("promises")
    payments, cases, complaints = _t("payments"), _t("cases"), _t("complaints")
    first = as_of - timedelta(days=window_days - 1)
    start, end = _instant(first), _instant(as_of + timedelta(days=1))
    in_window = sa.and_(contacts.c.attempted_at >= start, contacts.c.attempted_at < end)
    contact_rows = conn.execute(
        sa.select(
            contacts.c.user_id,
            sa.func.count(),
            sa.func.sum(sa.case((contacts.c.right_party.is_(True), 1), else_=0)),
        )
        .where(in_window, contacts.c.user_id.is_not(None))
        .group_by(contacts.c.user_id)
    ).all()
    made = _by(
        conn,
        sa.select(promises.c.created_by, sa.func.count())
        .where(promises.c.promised_on.between(first, as_of))
        .group_by(promises.c.created_by),
    )
    decided_in = promises.c.decided_on.between(first, as_of)
    kept = _by(
        conn,
        sa.select(promises.c.created_by, sa.func.count())
        .where(decided_in, promises.c.status == "kept")
        .group_by(promises.c.created_by),
    )
    decided = _by(
        conn,
        sa.select(promises.c.created_by, sa.func.count())
        .where(decided_in, promises.c.status.in_(("kept", "broken")))
        .group_by(promises.c.created_by),
    )
    collected = _by(
        conn,
        sa.select(cases.c.assigned_user_id, sa.func.sum(payments.c.amount_fen))
        .join(cases, cases.c.account_id == payments.c.account_id)
        .where(payments.c.value_date.between(first, as_of), cases.c.assigned_user_id.is_not(None))
        .group_by(cases.c.assigned_user_id),
    )
    complained = _by(
        conn,
        sa.select(complaints.c.collector_user_id, sa.func.count())
        .where(complaints.c.received_at >= start, complaints.c.received_at < end)
        .group_by(complaints.c.collector_user_id),
    )
    people = conn.execute(
        sa.select(users.c.id, users.c.display_name, users.c.team_id)
        .where(users.c.role.in_(("collector", "agency")))
        .order_by(users.c.id)
        .limit(MAX_ROWS)
    ).all()
    by_contact = {uid: (int(n), int(rpc or 0)) for uid, n, rpc in contact_rows}
    rows = [
        Row(
            key=uid,
            name=str(name),
            contacts=by_contact.get(uid, (0, 0))[0],
            right_party=by_contact.get(uid, (0, 0))[1],
            promises=made.get(uid, 0),
            kept=kept.get(uid, 0),
            decided=decided.get(uid, 0),
            collected_fen=collected.get(uid, 0),
            complaints=complained.get(uid, 0),
        )
        for uid, name, _team in people
    ]
    return sorted(rows, key=lambda r: (-r.contacts, r.name))


def teams(conn: Connection, people: list[Row]) -> list[Row]:
    """The collectors' rows added up by team."""
    users, team_table = _t("users"), _t("teams")
    team_of = dict(conn.execute(sa.select(users.c.id, users.c.team_id)).all())
    names = dict(conn.execute(sa.select(team_table.c.id, team_table.c.name)).all())
    totals: dict[int | None, list[int]] = {}
    for row in people:
        acc = totals.setdefault(team_of.get(row.key), [0] * 7)
        for i, value in enumerate(
            (row.contacts, row.right_party, row.promises, row.kept, row.decided,
             row.collected_fen, row.complaints)
        ):  # fmt: skip
            acc[i] += value
    return [
        Row(tid, str(names.get(tid, "–")), *values)
        for tid, values in sorted(totals.items(), key=lambda kv: str(names.get(kv[0], "")))
    ]

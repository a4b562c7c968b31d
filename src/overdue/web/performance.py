"""Figures of the manager dashboard: today's KPIs (read-only counts over the store, no personal
data) and team and collector performance over the last ``window_days`` business days, taken from
overdue.cases.performance (contacts, right-party contacts, promises, kept rate, amount collected,
complaints). Only roles that see the whole book (admin, manager, analyst, auditor) see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from overdue.cases.performance import Performance, collector_performance, team_performance
from overdue.store.tables import Team, User

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
                    contacts.c.attempted_at >= start,
                    contacts.c.attempted_at < end,
                    contacts.c.blocked_rule.is_(None),
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


def collectors(session: Session, as_of: date, window_days: int = WINDOW_DAYS) -> list[Row]:
    """One row per collector over the window (overdue.cases.performance), busiest first."""
    assert 1 <= window_days <= 366
    first = as_of - timedelta(days=window_days - 1)
    rows = collector_performance(session, first, as_of)
    names: dict[int | None, str] = dict(
        (r.id, r.display_name) for r in session.execute(sa.select(User.id, User.display_name))
    )
    out = [_row(r, str(names.get(r.user_id, r.who))) for r in rows]
    return sorted(out, key=lambda r: (-r.contacts, r.name))[:MAX_ROWS]


def teams(session: Session, as_of: date, window_days: int = WINDOW_DAYS) -> list[Row]:
    """The collectors' figures added up by team."""
    first = as_of - timedelta(days=window_days - 1)
    names: dict[int | None, str] = dict(
        (r.id, r.name) for r in session.execute(sa.select(Team.id, Team.name))
    )
    summed = team_performance(collector_performance(session, first, as_of))
    return [_row(r, str(names.get(r.team_id, "–"))) for r in summed]


def _row(p: Performance, name: str) -> Row:
    return Row(
        key=p.user_id if p.user_id is not None else p.team_id,
        name=name,
        contacts=p.contacts,
        right_party=p.right_party,
        promises=p.promises,
        kept=p.kept,
        decided=p.kept + p.broken,
        collected_fen=p.collected_fen,
        complaints=p.complaints,
    )

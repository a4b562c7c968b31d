"""Customers and accounts of the book copied into the store (only those that have cases).

The book carries language, time zone, region and segment; phone, e-mail, name, address and ID
number are generated (``overdue.cases.synthetic``) and flagged synthetic. Inserts are batched
writes (``COPY`` on PostgreSQL); rows already in the store are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases.bulk_write import insert_rows, update_rows
from overdue.cases.synthetic import FakePerson, fake_person
from overdue.store.tables import LANGUAGES, Account, ContactPoint, Customer

BATCH_ROWS = 20_000
DEFAULT_TIME_ZONE = "Asia/Shanghai"


def chunks(rows: Sequence[Any], size: int = BATCH_ROWS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@dataclass(frozen=True)
class BookPeople:
    """The book's customers (language, time zone, region, segment) and accounts (product,
    policy, currency, opened_on), keyed by id; empty when no book is given."""

    customers: dict[str, dict[str, Any]]
    accounts: dict[str, dict[str, Any]]

    @staticmethod
    def empty() -> BookPeople:
        return BookPeople({}, {})


def read_book(book_dir: Path | None, account_ids: Iterable[str]) -> BookPeople:
    """The book rows for ``account_ids`` and their customers."""
    if book_dir is None:
        return BookPeople.empty()
    wanted = pa.array(sorted(set(account_ids)), pa.string())
    accounts = pq.read_table(
        book_dir / "accounts.parquet",
        columns=["account_id", "customer_id", "product", "policy", "currency", "opened_on"],
    )
    accounts = accounts.filter(pc.is_in(accounts["account_id"], value_set=wanted))
    customer_ids = pc.unique(accounts["customer_id"])
    customers = pq.read_table(book_dir / "customers.parquet")
    customers = customers.filter(pc.is_in(customers["customer_id"], value_set=customer_ids))
    return BookPeople(
        customers={r["customer_id"]: r for r in customers.to_pylist()},
        accounts={r["account_id"]: r for r in accounts.to_pylist()},
    )


def _customer_row(customer_id: str, book: dict[str, Any] | None, as_of: date) -> dict[str, Any]:
    language = (book or {}).get("language") or "zh-CN"
    if language not in LANGUAGES:
        language = "zh-CN"
    region = (book or {}).get("region") or None
    person = fake_person(customer_id, language, region)
    return {
        "customer_id": customer_id,
        "name": person.name,
        "phone": person.phone,
        "email": person.email,
        "address": person.address,
        "id_number": person.id_number,
        "language": language,
        "time_zone": (book or {}).get("time_zone") or DEFAULT_TIME_ZONE,
        "region": region,
        "segment": (book or {}).get("segment") or None,
        "synthetic": True,
        "updated_on": as_of,
        "_emergency_phone": person.emergency_phone,
    }


def _contact_rows(customer: dict[str, Any]) -> list[dict[str, Any]]:
    person = FakePerson(
        name=customer["name"],
        phone=customer["phone"],
        email=customer["email"],
        address=customer["address"],
        id_number=customer["id_number"],
        emergency_phone=customer.pop("_emergency_phone"),
    )
    base = {"customer_id": customer["customer_id"], "synthetic": True}
    return [
        {**base, "kind": "phone", "value": person.phone, "is_primary": True, "relation": "debtor"},
        {**base, "kind": "email", "value": person.email, "is_primary": True, "relation": "debtor"},
        {
            **base,
            "kind": "address",
            "value": person.address,
            "is_primary": True,
            "relation": "debtor",
        },
        {
            **base,
            "kind": "phone",
            "value": person.emergency_phone,
            "is_primary": False,
            "relation": "emergency_contact",
        },
    ]


def existing_ids(session: Session, column: Any, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(list(ids), 5_000):
        found.update(session.scalars(select(column).where(column.in_(part))))
    return found


def ensure_customers(
    session: Session, customer_ids: Iterable[str], book: BookPeople, as_of: date
) -> int:
    """Insert the customers (with phone, e-mail and emergency-contact points) not yet in the
    store. Channel preferences are stored only when a customer states one (no row = consent
    by default, no opt-out)."""
    wanted = sorted(set(customer_ids))
    known = existing_ids(session, Customer.customer_id, wanted)
    missing = [c for c in wanted if c not in known]
    rows = [_customer_row(c, book.customers.get(c), as_of) for c in missing]
    points = [p for row in rows for p in _contact_rows(row)]
    insert_rows(session, Customer, rows)
    insert_rows(session, ContactPoint, points)
    return len(rows)


def account_row(
    snapshot: dict[str, Any], book: dict[str, Any] | None, as_of: date
) -> dict[str, Any]:
    return {
        "account_id": snapshot["account_id"],
        "customer_id": snapshot["customer_id"],
        "product": snapshot["product"],
        "policy": snapshot["policy"],
        "currency": (book or {}).get("currency") or "CNY",
        "opened_on": (book or {}).get("opened_on"),
        "status": snapshot["status"],
        "dpd": snapshot["dpd"],
        "bucket_cn": snapshot["bucket_cn"],
        "total_overdue_fen": snapshot["total_overdue_fen"],
        "charged_off_on": snapshot["charged_off_on"],
        "snapshot_as_of": as_of,
    }


def upsert_accounts(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new account mirrors and refresh the snapshot figures of known ones."""
    known = existing_ids(session, Account.account_id, [r["account_id"] for r in rows])
    new = [r for r in rows if r["account_id"] not in known]
    old = [r for r in rows if r["account_id"] in known]
    insert_rows(session, Account, new)
    fields = ("status", "dpd", "bucket_cn", "total_overdue_fen", "charged_off_on", "snapshot_as_of")
    update_rows(
        session,
        Account,
        "account_id",
        [{"account_id": r["account_id"], **{f: r[f] for f in fields}} for r in old],
    )

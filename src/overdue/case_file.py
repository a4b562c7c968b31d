"""Reading one account's case (the ``CASE.json`` of ``overdue account-state``) into the domain.

Every error names the source, the JSON path of the bad field and the reason, in one line, e.g.
``case.json: payments[1].amount: '-5.00' is negative``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from overdue.domain.engine import (
    Account,
    DueItem,
    EngineInputError,
    Payment,
    Reversal,
    Waiver,
    validate_account,
)
from overdue.domain.money import parse_amount
from overdue.domain.policy import COMPONENTS, Component, Product

MAX_CASE_BYTES = 20 * 1024 * 1024
MAX_RECORDS = 100_000

_TOP_KEYS = {"account_id", "product", "policy", "items", "payments", "waivers", "reversals"}
_ITEM_KEYS = {"id", "due_date", "principal", "interest", "fee", "minimum"}
_PAYMENT_KEYS = {"id", "date", "amount"}
_WAIVER_KEYS = {"date", "component", "amount", "approver"}
_REVERSAL_KEYS = {"payment_id", "date"}


class CaseFileError(ValueError):
    """Bad input in a case file; the message is one line naming source, field and reason."""


@dataclass(frozen=True)
class Case:
    """A parsed case: the account and the policy keys that override the ``--policy`` base."""

    account: Account
    policy_overrides: dict[str, Any]
    source: str


def load_case_file(path: str | Path) -> Case:
    file = Path(path)
    try:
        if file.stat().st_size > MAX_CASE_BYTES:
            raise CaseFileError(f"{file}: larger than {MAX_CASE_BYTES} bytes")
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseFileError(f"{file}: no such file") from None
    except UnicodeDecodeError as exc:
        raise CaseFileError(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return load_case_text(text, source=str(file))


def load_case_text(text: str, *, source: str = "<case>") -> Case:
    try:
        raw = json.loads(text, parse_float=lambda s: s)  # keep numbers exact: floats stay text
    except json.JSONDecodeError as exc:
        raise CaseFileError(
            f"{source}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    return _Reader(source).case(raw)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, reason: str) -> CaseFileError:
        return CaseFileError(f"{self.source}: {where}: {reason}")

    def case(self, raw: object) -> Case:
        top = self.obj(raw, "case", _TOP_KEYS, required={"account_id", "product", "items"})
        account_id = top["account_id"]
        if not isinstance(account_id, str) or not account_id:
            raise self.fail("account_id", f"{account_id!r} must be a non-empty string")
        product = self.product(top["product"])
        policy = top.get("policy", {})
        if not isinstance(policy, dict):
            raise self.fail("policy", "must be an object of policy keys")
        account = Account(
            account_id=account_id,
            product=product,
            items=tuple(
                self.item(r, f"items[{i}]") for i, r in enumerate(self.array(top, "items"))
            ),
            payments=tuple(
                self.payment(r, f"payments[{i}]") for i, r in enumerate(self.array(top, "payments"))
            ),
            waivers=tuple(
                self.waiver(r, f"waivers[{i}]") for i, r in enumerate(self.array(top, "waivers"))
            ),
            reversals=tuple(
                self.reversal(r, f"reversals[{i}]")
                for i, r in enumerate(self.array(top, "reversals"))
            ),
        )
        try:
            validate_account(account)
        except EngineInputError as exc:
            raise CaseFileError(f"{self.source}: {exc}") from None
        return Case(account=account, policy_overrides=dict(policy), source=self.source)

    def obj(self, raw: object, where: str, allowed: set[str], required: set[str]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(where, "must be a JSON object")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
            )
        missing = sorted(required - set(raw))
        if missing:
            raise self.fail(f"{where}.{missing[0]}", "required key is missing")
        return raw

    def array(self, top: dict[str, Any], key: str) -> list[object]:
        value = top.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "must be a JSON array")
        if len(value) > MAX_RECORDS:
            raise self.fail(key, f"more than {MAX_RECORDS} records")
        return value

    def product(self, value: object) -> Product:
        try:
            return Product(value)
        except ValueError:
            raise self.fail("product", f"{value!r} must be 'revolving' or 'installment'") from None

    def text(self, raw: dict[str, Any], key: str, where: str) -> str:
        value = raw[key]
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}.{key}", f"{value!r} must be a non-empty string")
        return value

    def day(self, raw: dict[str, Any], key: str, where: str) -> date:
        value = raw[key]
        try:
            return (
                date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad()
            )
        except ValueError:
            raise self.fail(f"{where}.{key}", f"{value!r} is not a date YYYY-MM-DD") from None

    def amount(self, raw: dict[str, Any], key: str, where: str) -> Decimal:
        value = raw[key]
        if isinstance(value, bool) or value is None:
            raise self.fail(f"{where}.{key}", f"{value!r} is not an amount")
        try:
            return parse_amount(value, field=f"{where}.{key}")
        except ValueError as exc:
            raise CaseFileError(f"{self.source}: {exc}") from None

    def item(self, raw: object, where: str) -> DueItem:
        r = self.obj(raw, where, _ITEM_KEYS, required={"id", "due_date", "principal"})
        zero = {"interest": "0", "fee": "0"}
        return DueItem(
            id=self.text(r, "id", where),
            due_date=self.day(r, "due_date", where),
            principal=self.amount(r, "principal", where),
            interest=self.amount({**zero, **r}, "interest", where),
            fee=self.amount({**zero, **r}, "fee", where),
            minimum=None if r.get("minimum") is None else self.amount(r, "minimum", where),
        )

    def payment(self, raw: object, where: str) -> Payment:
        r = self.obj(raw, where, _PAYMENT_KEYS, required=_PAYMENT_KEYS)
        amount = self.amount(r, "amount", where)
        if amount == 0:
            raise self.fail(f"{where}.amount", "a payment must be positive")
        return Payment(id=self.text(r, "id", where), date=self.day(r, "date", where), amount=amount)

    def waiver(self, raw: object, where: str) -> Waiver:
        r = self.obj(raw, where, _WAIVER_KEYS, required=_WAIVER_KEYS)
        component = r["component"]
        if component not in COMPONENTS:
            raise self.fail(
                f"{where}.component", f"{component!r} must be one of {', '.join(COMPONENTS)}"
            )
        amount = self.amount(r, "amount", where)
        if amount == 0:
            raise self.fail(f"{where}.amount", "a waiver must be positive")
        comp: Component = component
        return Waiver(
            date=self.day(r, "date", where),
            component=comp,
            amount=amount,
            approver=self.text(r, "approver", where),
        )

    def reversal(self, raw: object, where: str) -> Reversal:
        r = self.obj(raw, where, _REVERSAL_KEYS, required=_REVERSAL_KEYS)
        return Reversal(
            payment_id=self.text(r, "payment_id", where), date=self.day(r, "date", where)
        )


def _bad() -> date:
    raise ValueError("not a date")


def case_to_json(
    account: Account, policy_overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The inverse of :func:`load_case_text`: an account as a CASE.json object."""
    return {
        "account_id": account.account_id,
        "product": account.product.value,
        "policy": dict(policy_overrides or {}),
        "items": [
            {
                "id": i.id,
                "due_date": i.due_date.isoformat(),
                "principal": str(i.principal),
                "interest": str(i.interest),
                "fee": str(i.fee),
                **({} if i.minimum is None else {"minimum": str(i.minimum)}),
            }
            for i in account.items
        ],
        "payments": [
            {"id": p.id, "date": p.date.isoformat(), "amount": str(p.amount)}
            for p in account.payments
        ],
        "waivers": [
            {
                "date": w.date.isoformat(),
                "component": w.component,
                "amount": str(w.amount),
                "approver": w.approver,
            }
            for w in account.waivers
        ],
        "reversals": [
            {"payment_id": r.payment_id, "date": r.date.isoformat()} for r in account.reversals
        ],
    }

"""Every worked example of docs/concepts/overdue.md, run through the engine.

The page writes each example as a fenced ```json case block (a CASE.json with its policy
overrides) followed by one or more ```json expected blocks (the business date ``as_of`` and the
figures the page explains). Every figure shown must be what the engine reports.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from overdue.case_file import load_case_text
from overdue.domain.engine import AccountState, account_state
from overdue.domain.policy import PenaltyBase, Policy, Product, resolve_policy

DOC = Path(__file__).resolve().parents[2] / "docs" / "concepts" / "overdue.md"
BLOCK = re.compile(r"^```json (case|expected)\n(.*?)^```$", re.MULTILINE | re.DOTALL)

CONTRACT_KEYS = [
    "as_of",
    "status",
    "dpd",
    "bucket_cn",
    "bucket_us",
    "oldest_past_due_date",
    "overdue_principal",
    "overdue_interest",
    "overdue_fee",
    "penalty_outstanding",
    "total_overdue",
    "penalty_accrued",
    "credit_balance",
    "revolved_amount",
    "paid_total",
    "waived_total",
    "delinquent_since",
    "max_dpd",
    "charged_off_on",
    "recovered_after_charge_off",
]
STATUSES = ("current", "in_grace", "overdue", "charged_off", "settled")

_DECIMAL_KEYS = {
    "tolerance",
    "penalty_daily_rate",
    "contract_daily_rate",
    "penalty_multiplier",
    "late_fee",
}
_INT_KEYS = {"grace_days", "write_off_dpd"}


@dataclass(frozen=True)
class Example:
    number: int
    case_text: str
    expected: dict[str, Any]

    @property
    def label(self) -> str:
        return f"example{self.number}-{self.expected.get('as_of')}"


def examples() -> list[Example]:
    found: list[Example] = []
    case_text: str | None = None
    number = 0
    for kind, body in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if kind == "case":
            case_text, number = body, number + 1
            continue
        assert case_text is not None, "an expected block must follow a case block"
        found.append(Example(number, case_text, json.loads(body)))
    return found


def policy_kwargs(overrides: dict[str, Any]) -> dict[str, Any]:
    """A case's ``policy`` object as keyword arguments of ``resolve_policy``."""
    kwargs: dict[str, Any] = {}
    for key, value in overrides.items():
        if key in _DECIMAL_KEYS:
            kwargs[key] = Decimal(str(value))
        elif key in _INT_KEYS:
            kwargs[key] = int(value)
        elif key == "penalty_base":
            kwargs[key] = PenaltyBase(value)
        elif key == "allocation_order":
            kwargs[key] = tuple(value)
        elif key == "accrue_after_write_off":
            kwargs[key] = bool(value)
        else:
            raise AssertionError(f"the doc uses a policy key this test does not know: {key}")
    return kwargs


def evaluate(example: Example) -> AccountState:
    case = load_case_text(example.case_text, source=f"overdue.md {example.label}")
    policy: Policy = resolve_policy(case.account.product, **policy_kwargs(case.policy_overrides))
    return account_state(case.account, policy, date.fromisoformat(example.expected["as_of"]))


def transitions_json(state: AccountState) -> list[dict[str, object]]:
    return [
        {
            "on": t.on.isoformat(),
            "scheme": t.scheme,
            "from": t.from_bucket,
            "to": t.to_bucket,
            "dpd": t.dpd,
        }
        for t in state.transitions
    ]


EXAMPLES = examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.label)
def test_every_figure_shown_is_what_the_engine_reports(example: Example) -> None:
    state = evaluate(example)
    actual = dict(state.to_json_dict())
    actual["transitions"] = transitions_json(state)
    shown = {key: actual[key] for key in example.expected}
    assert shown == example.expected


def test_the_page_has_the_examples_it_promises() -> None:
    assert len({e.number for e in EXAMPLES}) >= 10
    products = {json.loads(e.case_text)["product"] for e in EXAMPLES}
    assert products == {p.value for p in Product}


def test_the_page_shows_every_figure_and_every_status() -> None:
    shown = {key for e in EXAMPLES for key in e.expected}
    assert set(CONTRACT_KEYS) <= shown, sorted(set(CONTRACT_KEYS) - shown)
    statuses = {e.expected.get("status") for e in EXAMPLES}
    assert set(STATUSES) <= statuses, sorted(set(STATUSES) - statuses)
    text = DOC.read_text(encoding="utf-8")
    for key in CONTRACT_KEYS:  # and explains each one in the figure table
        assert f"`{key}`" in text, key


def test_the_command_line_gives_the_same_figures(tmp_path: Path) -> None:
    """The page tells readers to run ``overdue account-state`` on a case: it must agree."""
    from overdue.cli import app

    runner = CliRunner()
    for example in EXAMPLES:
        case_file = tmp_path / f"{example.label}.json"
        case_file.write_text(example.case_text, encoding="utf-8")
        args = ["account-state", str(case_file), "--as-of", example.expected["as_of"], "--json"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (example.label, result.output)
        printed = json.loads(result.stdout)
        shown = {key: printed[key] for key in example.expected if key != "transitions"}
        assert shown == {k: v for k, v in example.expected.items() if k != "transitions"}

"""``overdue account-state``: one account's state at the end of a business date, with its reasons."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer

from overdue.domain.engine import AccountState, ItemState
from overdue.domain.money import fmt
from overdue.domain.policy import PenaltyBase, Policy

EXAMPLE = """
Example:

  overdue account-state examples/cases/loan-partly-paid.json --as-of 2026-03-15 --policy jiebei-like

  overdue account-state case.json --as-of 2026-03-15 --json
"""


def parse_as_of(text: str) -> date:
    from overdue.cli import BadInput

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--as-of: {text!r} is not a date YYYY-MM-DD") from None


def evaluate_case(case_path: Path, as_of: date, policy_source: str | None) -> AccountState:
    """Load the case and the policy and run the engine; bad input becomes ``BadInput``."""
    from overdue.case_file import CaseFileError, load_case_file
    from overdue.cli import BadInput
    from overdue.config.policies import PolicyConfigError, build_policy, load_policy_source
    from overdue.domain.engine import EngineInputError, account_state

    try:
        case = load_case_file(case_path)
        base = load_policy_source(policy_source)
        policy = build_policy(
            case.account.product,
            base,
            case.policy_overrides,
            source=f"{case_path}: policy",
        )
        return account_state(case.account, policy, as_of)
    except (CaseFileError, PolicyConfigError, EngineInputError) as exc:
        raise BadInput(str(exc)) from None


def register(app: typer.Typer) -> None:
    @app.command("account-state", epilog=EXAMPLE)
    def account_state_command(
        case: Path = typer.Argument(
            ..., help="CASE.json: the account's items, payments, waivers, reversals."
        ),
        as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD (end of day)."),
        policy: str | None = typer.Option(
            None, "--policy", help="Policy TOML file or preset (huabei-like, jiebei-like, us-card)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the account-state JSON object."),
    ) -> None:
        """One account's overdue state at the end of AS_OF: DPD, buckets, amounts and why."""
        state = evaluate_case(case, parse_as_of(as_of), policy)
        if as_json:
            typer.echo(json.dumps(state.to_json_dict(), ensure_ascii=False, indent=2))
            return
        from overdue.case_file import load_case_file
        from overdue.config.policies import build_policy, load_policy_source

        loaded = load_case_file(case)
        resolved = build_policy(
            loaded.account.product, load_policy_source(policy), loaded.policy_overrides
        )
        print_state(state, resolved)


def print_state(state: AccountState, policy: Policy, *, title: str | None = None) -> None:
    """A readable account state: the figures, the items, the reasons and the bucket history."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    figures = Table(
        title=title or f"Account {state.account_id} at the end of {state.as_of}", show_header=False
    )
    figures.add_column("figure", style="bold")
    figures.add_column("value", justify="right")
    for key, value in state.to_json_dict().items():
        figures.add_row(key, "—" if value is None else str(value))
    console.print(figures)
    console.print(_items_table(state.items))
    for line in explain(state, policy):
        console.print(f"• {line}")
    if state.transitions:
        history = Table(title="Bucket history (end of day)")
        for column in ("date", "scheme", "from", "to", "DPD"):
            history.add_column(column)
        for t in state.transitions:
            history.add_row(t.on.isoformat(), t.scheme, t.from_bucket, t.to_bucket, str(t.dpd))
        console.print(history)


def _items_table(items: tuple[ItemState, ...]) -> object:
    from rich.table import Table

    table = Table(title="Items, oldest first")
    for column in (
        "item",
        "due",
        "principal",
        "interest",
        "fee",
        "penalty",
        "paid",
        "waived",
        "state",
    ):
        table.add_column(column, justify="left" if column in ("item", "due", "state") else "right")
    for item in items:
        state = "revolved" if item.closed_by_minimum else ("open" if item.is_open else "closed")
        table.add_row(
            item.id,
            item.due_date.isoformat(),
            fmt(item.unpaid_principal),
            fmt(item.unpaid_interest),
            fmt(item.unpaid_fee),
            fmt(item.unpaid_penalty),
            fmt(item.paid),
            fmt(item.waived),
            state,
        )
    return table


def explain(state: AccountState, policy: Policy) -> list[str]:
    """The reasons behind the figures, in plain sentences."""
    base = (
        "unpaid principal"
        if policy.penalty_base is PenaltyBase.PRINCIPAL
        else "unpaid principal + interest"
    )
    rate_pct = policy.penalty_daily_rate * 100
    lines = [
        f"Penalty: {rate_pct.normalize():f} % a day on the {base} of each open past-due item, "
        f"rounded half-up to 0.01 each day; grace {policy.grace_days} day(s), "
        f"tolerance {fmt(policy.tolerance)}."
    ]
    if state.oldest_past_due_item is None:
        lines.append("No open item is past due, so DPD is 0.")
    else:
        lines.append(
            f"Oldest open past-due item: {state.oldest_past_due_item}, due {state.oldest_past_due_date}; "
            f"DPD = {state.as_of} − {state.oldest_past_due_date} = {state.dpd} days."
        )
    for item in state.items:
        if item.penalty_days and (item.penalty_accrued or item.provisional_penalty):
            provisional = (
                f" (+{fmt(item.provisional_penalty)} provisional in grace)"
                if item.provisional_penalty
                else ""
            )
            lines.append(
                f"{item.id}: penalty counted for {item.penalty_days} day(s), "
                f"{fmt(item.penalty_accrued)} owed in total{provisional}."
            )
        if item.late_fee_charged:
            lines.append(
                f"{item.id}: late fee {fmt(item.late_fee_charged)} added after the grace window."
            )
        if item.closed_by_minimum:
            lines.append(
                f"{item.id}: minimum paid in time; {fmt(item.revolved)} revolves to the next bill."
            )
    if state.charged_off_on is not None:
        lines.append(
            f"Charged off on {state.charged_off_on} (DPD reached {policy.write_off_dpd}); "
            f"{fmt(state.recovered_after_charge_off)} recovered since."
        )
    return lines

"""``overdue schedule`` (loan repayment schedules) and ``overdue installment`` (bill split)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from overdue.domain.bill_installment import DEFAULT_FEE_RATES, InstallmentPlan, plan_installment
from overdue.domain.money import ZERO, fmt, parse_amount
from overdue.domain.schedules import RepaymentMethod, ScheduleLine, build_schedule

SCHEDULE_EPILOG = (
    "Example: overdue schedule --principal 10000.00 --annual-rate 0.18 --term 12 "
    "--method equal_installment --start 2024-01-31 --json"
)
INSTALLMENT_EPILOG = "Example: overdue installment --amount 3000.00 --parts 6"
METHODS = ", ".join(m.value for m in RepaymentMethod)


def _bad(message: str) -> Exception:
    from overdue.cli import BadInput

    return BadInput(message)


def _parse_rate(text: str) -> Decimal:
    try:
        rate = Decimal(text.strip())
    except InvalidOperation:
        raise _bad(f"--annual-rate: {text!r} is not a decimal number (0.18 = 18 %/yr)") from None
    if not rate.is_finite() or rate < 0:
        raise _bad(f"--annual-rate: {text!r} must be a fraction ≥ 0 (0.18 = 18 %/yr)")
    return rate


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise _bad(f"--start: {text!r} is not a date YYYY-MM-DD") from None


def _parse_method(text: str) -> RepaymentMethod:
    try:
        return RepaymentMethod(text.strip())
    except ValueError:
        raise _bad(f"--method: {text!r} is not one of {METHODS}") from None


def _parse_money(text: str, option: str) -> Decimal:
    try:
        return parse_amount(text, field=option)
    except ValueError as exc:
        raise _bad(str(exc)) from None


def _name_option(message: str, options: dict[str, str]) -> str:
    """Say ``--term: …`` instead of ``term_months: …`` in a domain error."""
    field, sep, rest = message.partition(":")
    return f"{options[field]}{sep}{rest}" if sep and field in options else message


def _line_json(line: ScheduleLine) -> dict[str, Any]:
    return {
        "period": line.period,
        "due_date": line.due_date.isoformat(),
        "principal": fmt(line.principal),
        "interest": fmt(line.interest),
        "payment": fmt(line.payment),
        "remaining": fmt(line.remaining),
    }


def _schedule_table(lines: tuple[ScheduleLine, ...], method: RepaymentMethod) -> Table:
    table = Table(title=f"Repayment schedule 还款计划 ({method.value})")
    for header in ("Period 期数", "Due date 还款日"):
        table.add_column(header)
    for header in ("Principal 本金", "Interest 利息", "Payment 应还", "Remaining 剩余本金"):
        table.add_column(header, justify="right")
    for line in lines:
        table.add_row(
            str(line.period),
            line.due_date.isoformat(),
            fmt(line.principal),
            fmt(line.interest),
            fmt(line.payment),
            fmt(line.remaining),
        )
    principal = sum((line.principal for line in lines), ZERO)
    interest = sum((line.interest for line in lines), ZERO)
    table.add_section()
    table.add_row("Total 合计", "", fmt(principal), fmt(interest), fmt(principal + interest), "")
    return table


def schedule(
    principal: str = typer.Option(..., "--principal", help="Loan principal, e.g. 10000.00."),
    annual_rate: str = typer.Option(
        ..., "--annual-rate", help="Annual rate as a fraction: 0.18 = 18 %/yr."
    ),
    term: int = typer.Option(..., "--term", help="Number of monthly periods."),
    method: str = typer.Option(..., "--method", help=f"One of: {METHODS}."),
    start: str = typer.Option(..., "--start", help="Booking date YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print a loan's repayment schedule (等额本息, 等额本金, 先息后本, 6+6 hybrid)."""
    amount = _parse_money(principal, "--principal")
    rate = _parse_rate(annual_rate)
    chosen = _parse_method(method)
    first = _parse_date(start)
    try:
        lines = build_schedule(amount, rate, term, chosen, first)
    except ValueError as exc:
        options = {
            "principal": "--principal",
            "annual_rate": "--annual-rate",
            "term_months": "--term",
        }
        raise _bad(_name_option(str(exc), options)) from None
    if as_json:
        typer.echo(json.dumps([_line_json(line) for line in lines], ensure_ascii=False))
        return
    Console().print(_schedule_table(lines, chosen))


def _rate_text(rate: Decimal) -> str:
    return f"{(rate * 100).quantize(Decimal('0.01'))} %"


def _plan_json(plan: InstallmentPlan) -> dict[str, Any]:
    return {
        "amount": fmt(plan.amount),
        "parts": len(plan.parts),
        "total_fee_rate": str(plan.total_fee_rate),
        "total_fee": fmt(plan.total_fee),
        "monthly_irr": str(plan.monthly_irr.quantize(Decimal("1e-10"))),
        "nominal_apr": str(plan.nominal_apr.quantize(Decimal("1e-10"))),
        "effective_annual_rate": str(plan.effective_annual_rate.quantize(Decimal("1e-10"))),
        "schedule": [
            {
                "part": line.part,
                "principal": fmt(line.principal),
                "fee": fmt(line.fee),
                "payment": fmt(line.payment),
            }
            for line in plan.parts
        ],
    }


def _plan_table(plan: InstallmentPlan) -> Table:
    table = Table(title=f"Bill installment 账单分期: {fmt(plan.amount)} in {len(plan.parts)} parts")
    table.add_column("Part 期数")
    for header in ("Principal 本金", "Fee 手续费", "Payment 应还"):
        table.add_column(header, justify="right")
    for line in plan.parts:
        table.add_row(str(line.part), fmt(line.principal), fmt(line.fee), fmt(line.payment))
    table.add_section()
    total = plan.amount + plan.total_fee
    table.add_row("Total 合计", fmt(plan.amount), fmt(plan.total_fee), fmt(total))
    return table


def _rates_table(plan: InstallmentPlan) -> Table:
    table = Table(title="Rate disclosure 费率披露")
    table.add_column("Total fee rate 总手续费率", justify="right")
    table.add_column("APR 年化利率 (12 × monthly IRR)", justify="right")
    table.add_column("Effective annual rate 实际年利率", justify="right")
    table.add_row(
        _rate_text(plan.total_fee_rate),
        _rate_text(plan.nominal_apr),
        _rate_text(plan.effective_annual_rate),
    )
    return table


def installment(
    amount: str = typer.Option(..., "--amount", help="Bill amount to split, e.g. 3000.00."),
    parts: int = typer.Option(..., "--parts", help="3, 6, 9 or 12 monthly parts."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Split a bill into monthly parts (账单分期) and disclose the fee's annual rate (APR)."""
    value = _parse_money(amount, "--amount")
    if parts not in DEFAULT_FEE_RATES:
        offered = "/".join(str(n) for n in sorted(DEFAULT_FEE_RATES))
        raise _bad(f"--parts: {parts} is not offered (choose {offered})")
    try:
        plan = plan_installment(value, parts)
    except ValueError as exc:
        raise _bad(_name_option(str(exc), {"amount": "--amount"})) from None
    if as_json:
        typer.echo(json.dumps(_plan_json(plan), ensure_ascii=False))
        return
    console = Console()
    console.print(_plan_table(plan))
    console.print(_rates_table(plan))


def register(app: typer.Typer) -> None:
    app.command("schedule", epilog=SCHEDULE_EPILOG)(schedule)
    app.command("installment", epilog=INSTALLMENT_EPILOG)(installment)

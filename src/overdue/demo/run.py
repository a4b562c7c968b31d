"""The demo's steps. Each step writes its outputs under the demo folder and says where."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from overdue.case_file import load_case_text
from overdue.config.policies import build_policy, load_preset
from overdue.demo.book_pipeline import DemoBook, build_demo_book
from overdue.demo.illustrations import AS_OF, ILLUSTRATIONS
from overdue.demo.sections import models_section, strategies_section
from overdue.domain.engine import AccountState, account_state


def run_illustrations(out: Path, console: Console) -> list[AccountState]:
    """Evaluate every illustrative case at ``AS_OF``; write cases and states; print a table."""
    cases_dir = out / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    table = Table(
        title=f"Illustrative accounts at the end of {AS_OF} — one per rule of domain.md §2"
    )
    for column in (
        "account",
        "rule / 规则",
        "policy",
        "status",
        "DPD",
        "CN",
        "US",
        "total overdue",
        "penalty",
        "note",
    ):
        table.add_column(column)
    states = []
    for ill in ILLUSTRATIONS:
        text = json.dumps(ill.case, ensure_ascii=False, indent=2)
        (cases_dir / f"{ill.name}.json").write_text(text + "\n", encoding="utf-8")
        case = load_case_text(text, source=ill.name)
        policy = build_policy(case.account.product, load_preset(ill.policy), case.policy_overrides)
        state = account_state(case.account, policy, AS_OF)
        states.append(state)
        table.add_row(
            state.account_id,
            f"{ill.rule_en}\n{ill.rule_zh}",
            ill.policy + (" +overrides" if case.policy_overrides else ""),
            state.status,
            str(state.dpd),
            state.bucket_cn,
            state.bucket_us,
            str(state.to_json_dict()["total_overdue"]),
            str(state.to_json_dict()["penalty_accrued"]),
            _note(state),
        )
    console.print(table)
    states_json = {s.account_id: s.to_json_dict() for s in states}
    (out / "illustrative_states.json").write_text(
        json.dumps(states_json, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return states


def _note(state: AccountState) -> str:
    notes = []
    if state.revolved_amount:
        notes.append(f"revolved {state.revolved_amount}")
    if state.credit_balance:
        notes.append(f"credit {state.credit_balance}")
    if state.waived_total:
        notes.append(f"waived {state.waived_total}")
    if state.charged_off_on:
        notes.append(
            f"charged off {state.charged_off_on}, recovered {state.recovered_after_charge_off}"
        )
    if state.delinquent_since:
        notes.append(f"delinquent since {state.delinquent_since}")
    return "; ".join(notes)


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced: the book and its snapshots, the report, the store."""

    book: DemoBook
    report: Path
    database_url: str
    logins: dict[str, tuple[str, str]]
    strategy_figures: Path


def run_demo(out: Path, *, accounts: int, months: int, days: int, seed: int) -> DemoResult:
    console = Console(width=200)
    out.mkdir(parents=True, exist_ok=True)
    run_illustrations(out, console)
    console.print(
        f"Cases and states written to {out}/ — rerun one with: "
        f"overdue account-state {out}/cases/partly-paid-penalty.json --as-of 2026-03-15 --policy jiebei-like"
    )
    demo_book = build_demo_book(out, accounts, months, days, seed, console)
    console.print(
        f"Book: {demo_book.book} ({accounts:,} accounts); snapshots {demo_book.first_day} → "
        f"{demo_book.last_day} in {demo_book.snapshots}; times {demo_book.seconds}"
    )
    sections = [
        models_section(run_models(demo_book, out / "models", seed, console)),
        strategies_section(run_strategies(out / "strategies", accounts, days, seed, console)),
    ]
    report = write_monitoring_report(demo_book, out / "report.html", sections)
    console.print(f"[bold]Monitoring report / 监控报告: {report}[/bold]")
    database_url, logins = load_store(demo_book, out / "overdue.db", console)
    write_bureau_extract(demo_book, out / "bureau", database_url, console)
    write_daily(demo_book, out / f"daily-{demo_book.last_day.isoformat()}.xlsx", database_url, console)
    figures = out / "strategies" / "demo_strategies.json"
    return DemoResult(demo_book, report, database_url, logins, figures)


def run_models(demo_book: DemoBook, out: Path, seed: int, console: Console) -> dict[str, Any]:
    """Train the early-warning and collection models on the book; score its last snapshot."""
    from overdue.scoring.demo_models import demo_models

    console.print("Training the early-warning and collection models on the book …")
    result = demo_models(demo_book.book, demo_book.snapshots, out, seed=seed)
    table = Table(title="Models on the demo book (validation on later dates) / 模型（按时间验证）")
    for column in ("model", "AUC", "KS", "top 10 %", "top 20 %", "rows"):
        table.add_column(column)
    for name, fig in result["models"].items():
        table.add_row(
            name,
            f"{fig['auc']:.3f}",
            f"{fig['ks']:.3f}",
            f"{fig['capture_10']:.1%}",
            f"{fig['capture_20']:.1%}",
            f"{fig['n']:,}",
        )
    console.print(table)
    for name, reason in result["skipped"].items():
        console.print(f"Model {name} not trained: {reason}")
    return result


DEMO_STRATEGY_DAYS = 20
DEMO_STRATEGY_ACCOUNTS = 3_000


def run_strategies(
    out: Path, accounts: int, days: int, seed: int, console: Console
) -> dict[str, Any]:
    """The default strategy against the aggressive one, day by day through the daily run."""
    from overdue.strategy.arm_figures import arm_rows
    from overdue.strategy.simulate import demo_strategies

    sim_accounts = min(accounts, DEMO_STRATEGY_ACCOUNTS)
    sim_days = min(days, DEMO_STRATEGY_DAYS)
    console.print(
        f"Running the default and aggressive strategies for {sim_days} simulated days on "
        f"{sim_accounts:,} accounts (every contact through the compliance gate) …"
    )
    result = demo_strategies(out, accounts=sim_accounts, days=sim_days, seed=seed)
    rows, blocked = arm_rows(result)
    table = Table(title="Strategies per arm / 各实验组")
    for column in ("strategy", "arm", "contacts", "blocked", "promises", "recovered ¥"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.strategy,
            row.arm,
            f"{row.contacts:,}",
            f"{row.blocked:,}",
            f"{row.promises:,}",
            f"{row.recovered_fen / 100:,.2f}",
        )
    console.print(table)
    console.print(f"Blocked by rule / 按规则拦截: {blocked}; summary: {result['summary']}")
    (out / "demo_strategies.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return result


def load_store(
    demo_book: DemoBook, db_path: Path, console: Console
) -> tuple[str, dict[str, tuple[str, str]]]:
    """A fresh SQLite store with the book's cases as of its last day and one login per role."""
    from overdue.cases.seed import seed_demo
    from overdue.store.db import make_engine

    db_path.unlink(missing_ok=True)
    url = f"sqlite:///{db_path.resolve()}"
    engine = make_engine(url)
    try:
        logins = seed_demo(engine, demo_book.book, demo_book.snapshots, demo_book.last_day)
    finally:
        engine.dispose()
    console.print(f"Store / 业务库: {db_path} (cases as of {demo_book.last_day})")
    return url, logins


def write_daily(demo_book: DemoBook, path: Path, database_url: str, console: Console) -> None:
    """The daily report workbook of the last day, with the store's sheets."""
    from overdue.reports.daily_report import write_daily_report
    from overdue.store.db import make_engine, session_scope

    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            write_daily_report(demo_book.snapshots, demo_book.last_day, path, session)
    finally:
        engine.dispose()
    console.print(f"Daily report / 日报: {path}")


def write_bureau_extract(demo_book: DemoBook, out: Path, database_url: str, console: Console) -> None:
    """The credit-bureau extract of the last month the snapshots close, notices from the store."""
    from overdue.reports.bureau_grid import build_extract_sql
    from overdue.reports.bureau_notices import notices_from_store
    from overdue.reports.credit_bureau import Month, extract_summary, write_extract
    from overdue.store.db import make_engine, session_scope

    last = demo_book.last_day
    month = Month(last.year, last.month)
    if (last + timedelta(days=1)).month == last.month:
        month = month.plus(-1)  # the last month the snapshots close
    if month.last_day < demo_book.first_day:
        console.print("Credit-bureau extract: no month end among the snapshots")
        return
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            notices = notices_from_store(session, demo_book.first_day, month.last_day)
    finally:
        engine.dispose()
    extract = build_extract_sql(demo_book.book, demo_book.snapshots, month, notices)
    files = write_extract(extract, out)
    figures = extract_summary(extract)
    console.print(
        f"Credit-bureau extract / 征信报送数据 {month.label}: {figures['pboc_accounts']:,} accounts"
        f" reported, {figures['held_until_customer_told']:,} held until the customer is told"
        f" / 未告知客户的逾期信息暂不报送 → {files['pboc']}"
    )


def write_monitoring_report(demo_book: DemoBook, out: Path, sections: Sequence[str] = ()) -> Path:
    """Measures over the demo's snapshot history, the default alerts, one offline HTML page."""
    from importlib import resources

    from overdue.portfolio.alerts import evaluate, load_config
    from overdue.portfolio.monitoring import monitor
    from overdue.reports.monitoring_report import write_report

    measures = monitor(demo_book.snapshots, period="month", book=demo_book.book)
    with resources.as_file(resources.files("overdue.demo") / "alerts-default.toml") as rules:
        alerts = evaluate(load_config(rules), measures)
        html_path, _ = write_report(
            measures, alerts, out, alerts_source="alerts-default.toml", extra_sections=sections
        )
    return html_path

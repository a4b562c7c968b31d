"""``overdue db`` and ``overdue cases`` on a SQLite file: migrate, sync a snapshot, decide
promises, purge, bulk-load, and the one-line errors for bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from typer.testing import CliRunner

from overdue.cli import app
from overdue.errors import BadInput
from overdue.store.db import make_engine
from overdue.store.tables import Case, User

AS_OF = date(2024, 7, 1)


def _snapshot(root: Path) -> None:
    folder = root / f"as_of={AS_OF.isoformat()}" / "accounts"
    folder.mkdir(parents=True)
    rows = [
        {
            "account_id": f"K{i}",
            "customer_id": f"KC{i}",
            "product": "revolving",
            "policy": "huabei-like",
            "status": "overdue",
            "dpd": 5 + i,
            "bucket_cn": "M1",
            "overdue_principal_fen": 1_000,
            "overdue_interest_fen": 0,
            "overdue_fee_fen": 0,
            "penalty_outstanding_fen": 0,
            "total_overdue_fen": 1_000,
            "charged_off_on": None,
        }
        for i in range(3)
    ]
    table = pa.Table.from_pylist(rows).cast(
        pa.Table.from_pylist(rows).schema.set(12, pa.field("charged_off_on", pa.date32()))
    )
    pq.write_table(table, folder / "part-0.parquet")


def test_db_and_cases_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0 and "0003" in result.output
    _snapshot(tmp_path / "snap")
    result = runner.invoke(
        app, ["cases", "sync", str(tmp_path / "snap"), "--as-of", "2024-07-01", "--url", url]
    )
    assert result.exit_code == 0, result.output
    assert "opened 3" in result.output
    result = runner.invoke(app, ["cases", "promises", "--as-of", "2024-07-02", "--url", url])
    assert result.exit_code == 0 and "0 reminders due" in result.output
    result = runner.invoke(app, ["cases", "purge", "--as-of", "2024-07-02", "--url", url])
    assert result.exit_code == 0 and "0 customers" in result.output
    result = runner.invoke(
        app, ["cases", "bulk-load", "500", "--seed", "3", "--collectors", "2", "--url", url]
    )
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Case)) == 503
        bench = connection.scalars(select(User.id).where(User.username.like("bench-%"))).all()
        assigned = connection.scalar(
            select(func.count()).select_from(Case).where(Case.assigned_user_id.in_(bench))
        )
    engine.dispose()
    assert len(bench) == 2 and assigned == 500
    result = runner.invoke(app, ["db", "downgrade", "base", "--url", url])
    assert result.exit_code == 0 and "base" in result.output


def test_bad_input_names_the_option_and_reason(tmp_path: Path) -> None:
    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'x.db'}"

    def error(*args: str) -> str:
        result = runner.invoke(app, [*args, "--url", url])
        assert isinstance(result.exception, BadInput), result.output
        return str(result.exception)

    assert "--as-of" in error("cases", "sync", str(tmp_path), "--as-of", "2024-02-30")
    assert "no snapshot" in error("cases", "sync", str(tmp_path), "--as-of", "2024-02-28")
    bad = tmp_path / "bad.toml"
    bad.write_text("[retention]\nkeep_years = 1\n", encoding="utf-8")
    message = error("cases", "promises", "--as-of", "2024-02-28", "--config", str(bad))
    assert "bad.toml: retention.keep_years" in message


def test_self_service_link_prints_a_link_the_server_accepts(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from overdue.cases.self_service_links import read_token

    monkeypatch.setenv("OVERDUE_LINK_SECRET", "cli-link-secret")
    args = ["cases", "self-service-link", "C0000042", "--as-of", "2024-06-30", "--days", "10",
            "--base-url", "https://pay.example.com/"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith("https://pay.example.com/self/")
    link = read_token("cli-link-secret", url.rsplit("/", 1)[1], as_of=date(2024, 7, 10))
    assert link.customer_id == "C0000042" and link.valid_until == date(2024, 7, 10)
    bad = CliRunner().invoke(app, [*args[:5], "--days", "61"])
    assert isinstance(bad.exception, BadInput) and "valid_days" in str(bad.exception)

"""The manager dashboard over a real snapshot history: the book's figures of the last snapshot,
the bucket distribution, the roll-rate heat map and the vintage curves, in both languages.

The book is a small twin book with the end-of-day batch run at every month end (as the demo and
`overdue serve --snapshots` give it); the expected figures are read from the last snapshot's
Parquet files with DuckDB, independently of the monitoring code the page uses."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from web_support import client, make_settings, sign_in

from overdue.portfolio.eod import run_eod, snapshot_dates, snapshot_files
from overdue.twin.generate import TwinSpec, generate_book
from overdue.web import create_app
from overdue.web.i18n import Lang

ACCOUNTS = 400
MONTHS = 5


@pytest.fixture(scope="module")
def book_and_snapshots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dashboard_book")
    book, snaps = root / "book", root / "snapshots"
    manifest = generate_book(TwinSpec(accounts=ACCOUNTS, months=MONTHS, seed=11), book)
    first = date.fromisoformat(str(manifest["first_date"]))
    last = date.fromisoformat(str(manifest["last_date"]))
    day = first
    while day <= last:
        nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        if nxt - timedelta(days=1) <= last:
            run_eod(book, nxt - timedelta(days=1), snaps)
        day = nxt
    return book, snaps


def last_snapshot_figures(snaps: Path) -> dict[str, int]:
    as_of = snapshot_dates(snaps)[-1]
    files = [str(f) for f in snapshot_files(snaps, as_of)]
    con = duckdb.connect()
    row = con.execute(
        "SELECT count(*), count(*) FILTER (status IN ('overdue', 'charged_off')), "
        "sum(total_overdue_fen) FROM read_parquet($files)",
        {"files": files},
    ).fetchone()
    con.close()
    assert row is not None
    return {"accounts": row[0], "delinquent": row[1], "total_overdue_fen": int(row[2])}


def chart(page: str, target: str) -> dict[str, object]:
    found = re.search(
        rf'<script type="application/json" class="chart-data" data-target="{target}">(.*?)</script>',
        page,
        re.S,
    )
    assert found, f"no chart {target} on the page"
    figure: dict[str, object] = json.loads(found.group(1))
    return figure


def test_dashboard_shows_the_book_from_its_snapshots(
    store_url: str, book_and_snapshots: tuple[Path, Path]
) -> None:
    book, snaps = book_and_snapshots
    expected = last_snapshot_figures(snaps)
    assert expected["delinquent"] > 0, "the twin book should have delinquent accounts"
    app = create_app(make_settings(store_url, snapshot_dir=snaps, book_dir=book))
    try:
        c = client(app)
        sign_in(c, "manager")
        en = c.get("/dashboard?lang=en")
        assert en.status_code == 200
        page, lang = en.text, Lang("en")
        assert lang.number(expected["accounts"]) in page
        assert lang.number(expected["delinquent"]) in page
        assert lang.money(expected["total_overdue_fen"]) in page
        buckets = chart(page, "chart-book-buckets")
        counts = [v for trace in buckets["data"] for v in trace["y"]]  # type: ignore[union-attr]
        assert sum(counts) == expected["accounts"]
        roll = chart(page, "chart-roll-rates")
        assert any(trace.get("type") == "heatmap" for trace in roll["data"])  # type: ignore[union-attr]
        vintage = chart(page, "chart-vintage")
        assert vintage["data"], "vintage curves should have at least one cohort"
        zh = c.get("/dashboard?lang=zh-CN").text
        assert "账户" in zh and Lang("zh-CN").money(expected["total_overdue_fen"]) in zh
    finally:
        app.state.engine.dispose()


def test_managers_download_the_daily_report_collectors_do_not(
    store_url: str, book_and_snapshots: tuple[Path, Path]
) -> None:
    import io

    from openpyxl import load_workbook

    _, snaps = book_and_snapshots
    expected = last_snapshot_figures(snaps)
    app = create_app(make_settings(store_url, snapshot_dir=snaps))
    try:
        c = client(app)
        sign_in(c, "manager")
        assert 'href="/dashboard/daily.xlsx"' in c.get("/dashboard?lang=en").text
        got = c.get("/dashboard/daily.xlsx")
        assert got.status_code == 200
        last = snapshot_dates(snaps)[-1].isoformat()
        assert f'filename="daily-{last}.xlsx"' in got.headers["content-disposition"]
        summary = dict(load_workbook(io.BytesIO(got.content))["概览 Summary"].iter_rows(
            min_row=2, values_only=True))  # fmt: skip
        assert summary["业务日期 / Business date"] == last
        assert summary["账户数 / Accounts"] == expected["accounts"]
        assert summary["逾期账户 / Delinquent accounts"] == expected["delinquent"]
        collector = client(app)
        sign_in(collector, "collector")
        assert collector.get("/dashboard/daily.xlsx").status_code == 403
    finally:
        app.state.engine.dispose()

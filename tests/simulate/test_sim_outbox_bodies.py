"""The daily run's outbox rows hold the rendered message in the customer's own language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from overdue.strategy.run_day import run_day
from overdue.strategy.sim_book import make_base_book

DAY = date(2024, 7, 1)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outbox_bodies")
    start, path = make_base_book(600, 3, seed=11, out=root / "book")
    assert start == DAY
    # the twin's customers are mostly zh-CN: make every other one English-speaking
    customers = pq.read_table(path / "customers.parquet")
    languages = ["en" if i % 2 else "zh-CN" for i in range(customers.num_rows)]
    index = customers.column_names.index("language")
    customers = customers.set_column(index, "language", pa.array(languages, pa.string()))
    pq.write_table(customers, path / "customers.parquet")
    return path


def _languages(book: Path) -> dict[str, str]:
    customers = pq.read_table(book / "customers.parquet", columns=["customer_id", "language"])
    return dict(
        zip(customers["customer_id"].to_pylist(), customers["language"].to_pylist(), strict=True)
    )


def _assert_rendered(rows: list[dict[str, object]], languages: dict[str, str]) -> None:
    assert rows, "the day has outbox rows to check"
    seen = set()
    for row in rows:
        body = str(row["body"])
        assert body.strip(), row
        assert not body.startswith("template:"), row
        assert "{{" not in body and "}}" not in body, row
        language = languages[str(row["customer_id"])]
        seen.add(language)
        cjk = len(CJK.findall(body))
        if language == "zh-CN":
            assert cjk >= 10 and "your" not in body.lower(), (language, body)
        else:
            # English text; a cn-market message may name the credit register (征信) once
            assert language == "en"
            assert "your" in body.lower() and cjk <= 4, (language, body)
        if row["channel"] == "email":
            assert row["subject"], row
    assert seen == {"zh-CN", "en"}, f"both languages among the messages, saw {seen}"


def test_store_outbox_rows_are_rendered_in_the_customers_language(
    book: Path, tmp_path: Path
) -> None:
    from overdue.store.db import make_engine
    from overdue.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    # render=False only affects the file outbox: the store's rows are always rendered
    report = run_day(
        book, DAY, snapshots=tmp_path / "snaps", strategy="default", profile="us",
        store_url=url, render=False,
    )  # fmt: skip
    outbox = next(s for s in report.steps if s.name == "outbox")
    assert outbox.rows > 0
    with make_engine(url).connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                text("select customer_id, channel, subject, body, created_at from outbox")
            )
        ]
    assert len(rows) == outbox.rows
    _assert_rendered(rows, _languages(book))
    stamps = {r["created_at"] for r in rows}
    assert len(stamps) == 1
    stamp = datetime.fromisoformat(str(stamps.pop()))
    assert stamp.replace(tzinfo=UTC) == datetime(2024, 7, 1, tzinfo=UTC), "created_at = as_of"


def test_file_outbox_rows_are_rendered_in_the_customers_language(
    book: Path, tmp_path: Path
) -> None:
    snaps = tmp_path / "snaps"
    run_day(book, DAY, snapshots=snaps, strategy="default", profile="cn")
    outbox = pq.read_table(snaps / "outbox" / f"as_of={DAY.isoformat()}.parquet")
    _assert_rendered(outbox.to_pylist(), _languages(book))

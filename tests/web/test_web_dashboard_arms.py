"""The manager dashboard shows contacts, blocked attempts by rule, promises and recoveries per
strategy arm when the app is given a strategy run's figures (as the demo does)."""

from __future__ import annotations

import json
from pathlib import Path

from web_support import client, make_settings, sign_in

from overdue.web import create_app

RUN = {
    "strategies": {
        "strategy": {
            "name": "default",
            "arms": {
                "champion": {
                    "customers": 900,
                    "contacts": 412,
                    "blocked_by_rule": {"quiet_hours": 3},
                    "promises": 37,
                    "recovered_fen": 1234567,
                    "complaints": 1,
                },
                "holdout": {
                    "customers": 50,
                    "contacts": 0,
                    "blocked_by_rule": {},
                    "promises": 0,
                    "recovered_fen": 0,
                    "complaints": 0,
                },
            },
        },
        "vs": {
            "name": "aggressive",
            "arms": {
                "champion": {
                    "customers": 950,
                    "contacts": 2900,
                    "blocked_by_rule": {"quiet_hours": 700, "daily_connected_cap": 511},
                    "promises": 80,
                    "recovered_fen": 2000000,
                    "complaints": 29,
                }
            },
        },
    }
}


def test_dashboard_shows_each_arm_and_blocked_attempts_by_rule(
    store_url: str, tmp_path: Path
) -> None:
    figures = tmp_path / "arms.json"
    figures.write_text(json.dumps(RUN), encoding="utf-8")
    app = create_app(make_settings(store_url, strategy_figures=figures))
    try:
        c = client(app)
        sign_in(c, "manager")
        page = c.get("/dashboard?lang=en").text
        assert 'id="strategy-arms"' in page
        assert "strategy: default" in page and "vs: aggressive" in page
        assert "2,900" in page and "12,345.67" in page  # contacts and recovered yuan
        assert "daily_connected_cap" in page and "703" in page  # 700 + 3 quiet-hours blocks
        assert "各实验组策略效果" in c.get("/dashboard?lang=zh-CN").text
    finally:
        app.state.engine.dispose()


def test_dashboard_without_a_strategy_run_says_so(store_url: str) -> None:
    app = create_app(make_settings(store_url))
    try:
        c = client(app)
        sign_in(c, "manager")
        page = c.get("/dashboard?lang=en").text
        assert "No strategy run is configured." in page
        assert 'id="strategy-arms"' not in page
    finally:
        app.state.engine.dispose()

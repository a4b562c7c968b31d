"""Serve the app with uvicorn (``overdue serve`` and the demo call ``run_server``).

With ``workers`` > 1 uvicorn starts that many processes, each building the app from the
settings passed in the environment variable OVERDUE_WEB_SETTINGS (JSON).
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from overdue.compliance.profile import Profile
from overdue.web.settings import WebSettings

SETTINGS_ENV = "OVERDUE_WEB_SETTINGS"
MAX_WORKERS = 64


def settings_to_json(settings: WebSettings) -> str:
    return json.dumps({k: _plain(v) for k, v in dataclasses.asdict(settings).items()})


def _plain(value: Any) -> Any:
    if isinstance(value, Profile):
        return value.model_dump()
    return str(value) if isinstance(value, Path | date) else value


def settings_from_json(text: str) -> WebSettings:
    raw = json.loads(text)
    for key in ("snapshot_dir", "book_dir", "strategy_figures"):
        raw[key] = Path(raw[key]) if raw.get(key) else None
    if isinstance(raw.get("compliance_profile"), dict):
        raw["compliance_profile"] = Profile(**raw["compliance_profile"])
    raw["business_date"] = (
        date.fromisoformat(raw["business_date"]) if raw.get("business_date") else None
    )
    return WebSettings(**raw)


def app_from_environment() -> Any:
    """The app of one uvicorn worker process (see the module doc)."""
    from overdue.web.app import create_app

    return create_app(settings_from_json(os.environ[SETTINGS_ENV]))


def run_server(
    settings: WebSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Block serving the app at http://host:port/ until interrupted."""
    import uvicorn

    from overdue.web.app import create_app

    assert 0 <= port <= 65535, "port 0..65535"
    assert 1 <= workers <= MAX_WORKERS, f"workers 1..{MAX_WORKERS}"
    if workers == 1:
        uvicorn.run(
            create_app(settings), host=host, port=port, log_level="warning", access_log=False
        )
        return
    os.environ[SETTINGS_ENV] = settings_to_json(settings)
    uvicorn.run(
        "overdue.web.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )

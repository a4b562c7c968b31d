"""The web app: REST API, server-rendered pages, auth and roles, i18n (zh-CN, en).

Entry points: ``create_app(WebSettings(...))`` and ``run_server(settings, host, port)``.
"""

from __future__ import annotations

from overdue.web.settings import WebSettings

__all__ = ["WebSettings", "create_app", "run_server"]


def create_app(settings: WebSettings):
    from overdue.web.app import create_app as _create

    return _create(settings)


def run_server(
    settings: WebSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    from overdue.web.server import run_server as _run

    _run(settings, host, port, workers)

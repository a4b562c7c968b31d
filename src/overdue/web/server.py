"""Serve the app with uvicorn (``overdue serve`` and the demo call ``run_server``)."""

from __future__ import annotations

from overdue.web.settings import WebSettings


def run_server(settings: WebSettings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Block serving the app at http://host:port/ until interrupted."""
    import uvicorn

    from overdue.web.app import create_app

    assert 0 <= port <= 65535, "port 0..65535"
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)

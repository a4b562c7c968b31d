"""Fixtures of the web tests (defined in web_support.py, whose name is unique across tests/)."""

from web_support import app, sqlite_template, store_url

__all__ = ["app", "sqlite_template", "store_url"]

"""Errors shared by the command line and the packages it calls."""

from __future__ import annotations


class BadInput(Exception):
    """Input the user must fix; the CLI reports it as one line on stderr with exit code 2."""

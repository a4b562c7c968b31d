"""The ``overdue`` command line: one Typer app; every command is a thin call into the packages.

Commands live in ``overdue.commands.<name>`` modules, each with a ``register(app)`` function.
Bad input prints one clear line on stderr and exits with code 2.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from overdue import commands
from overdue.errors import BadInput

app = typer.Typer(
    name="overdue",
    help="Overdue (逾期) management for consumer credit. Try: overdue demo",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)




def fail(message: str) -> typer.Exit:
    """Print ``message`` as one line on stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)
    return typer.Exit(code=2)


def _register_all() -> None:
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    try:
        app()
    except BadInput as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(2)


__all__ = ["BadInput", "app", "fail", "main"]

if __name__ == "__main__":
    main()

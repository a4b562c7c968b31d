"""Every command's --help carries an example."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from overdue.cli import app


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if hasattr(group, "commands"):
        found = []
        for name, sub in group.commands.items():
            found += _commands(sub, (*prefix, name))
        return found
    return [prefix]


COMMANDS = _commands(typer.main.get_command(app))


def test_there_are_commands() -> None:
    assert ("account-state",) in COMMANDS and ("demo",) in COMMANDS and ("schedule",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"overdue {' '.join(path)} --help has no example"
    assert "overdue " in result.output.split("Example", 1)[1]

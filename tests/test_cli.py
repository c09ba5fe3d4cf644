"""The command line: every command has help with an example and is in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from digest.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def all_commands(group: click.Group = main, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += all_commands(command, f"{prefix}{name} ")
    return found


@pytest.mark.parametrize("name,command", all_commands(), ids=[n for n, _ in all_commands()])
def test_every_command_has_help(name, command):
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert command.help and len(command.help.strip()) > 20


@pytest.mark.parametrize("name", [n for n, _ in all_commands()])
def test_every_command_is_documented_in_the_readme(name):
    assert re.search(rf"digest {re.escape(name)}\b", README), f"README.md does not mention `digest {name}`"


def test_global_options_are_listed_in_the_main_help():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for option in ("--config", "--verbose", "--quiet"):
        assert option in result.output

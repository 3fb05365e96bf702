"""The ``spaces`` argument parser: every command module registers its own subcommands.

A usage error is one line and exit code 2, like every other user error.
Every command that acts in an existing space also gets ``--user``: who
acts (default: the space's owner); the operations check that user's role.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from app.cli import agents, bundles, members, memory, objects, runs, serve, services, spaces, ui

MODULES = (spaces, services, runs, objects, memory, serve, ui, agents, members, bundles)
NO_USER = ("create", "down", "import")  # they name their owner, or touch no space


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"spaces: {message} (see 'spaces --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, from each module's ``add_commands``."""
    p = Parser(prog="spaces", description="Manage isolated project spaces.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in MODULES:
        module.add_commands(sub)
    _add_user_flags(sub)
    return p


def _add_user_flags(sub: argparse._SubParsersAction, *, top: bool = True) -> None:
    """Give every (nested) subcommand a ``--user`` option, unless it has one."""
    for name, parser in sub.choices.items():
        if top and name in NO_USER:
            continue
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for inner in nested:
            _add_user_flags(inner, top=False)
        if not nested and "--user" not in parser._option_string_actions:
            parser.add_argument("--user", help="act as this user (default: the space's owner)")

"""The ``spaces`` command line: a command table over ``app/operations/``.

Each module of this package registers its subcommands (``add_commands``)
and names its handlers (``COMMANDS``); ``main`` looks the command up in the
merged table and runs it. A handler parses nothing more than argparse did,
calls one operation and prints its result.

User errors (bad ids, unknown or archived spaces, bad numbers) print one line
on stderr and exit 2; a store that is down prints one line and exits 1.
``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from app.cli.output import Handler
from app.cli.parser import MODULES, build_parser
from app.errors import SpacesError
from app.failures import STORE_ERRORS, store_failure
from app.settings import Settings
from app.text import printable

COMMANDS: dict[str, Handler] = {
    name: handler for module in MODULES for name, handler in module.COMMANDS.items()
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spaces`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, Settings.from_env())
    except SpacesError as exc:
        print(printable(f"spaces: {exc.line()}"), file=sys.stderr)
        return exc.exit_code
    except STORE_ERRORS as exc:  # a store died outside a run: one line all the same
        print(printable(f"spaces: {store_failure(exc).line()}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("spaces: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `spaces recall ... | head`: the reader left, which is no error
        # Python flushes stdout again at exit; point it at nothing so that flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

"""What every CLI command shares: who acts, and how a result is printed.

The CLI is a local, trusted client: ``--user U`` says who acts, and without
it a command acts as the space's owner (as ``spaces run`` does). The role
check itself is the operation's (``app/operations/``), the same as for
REST and the console.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from app.settings import Settings
from app.spaces.space_manager import SpaceManager
from app.text import printable

Handler = Callable[[argparse.Namespace, Settings], int]


def acting(manager: SpaceManager, args: argparse.Namespace) -> str:
    """The user a command acts as: ``--user``, else the owner of ``args.space_id``."""
    return getattr(args, "user", None) or manager.get_space(args.space_id).owner_id


def emit(args: argparse.Namespace, doc: Any, human: str) -> int:
    """One JSON document with ``--json``, else ``human`` with control characters escaped.

    Ids and names come from data (an old bundle's member id may hold a
    newline), so the human form never passes a terminal escape through.
    Returns 0, the exit code of a command that printed its result.
    """
    if getattr(args, "json", False):
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(printable(human, keep_newlines=True))
    return 0

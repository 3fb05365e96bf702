"""``spaces export SPACE FILE.tar.zst`` and ``spaces import FILE [--as ID] [--owner U]``.

Export is for admins of the space (``--user``, default: its owner). Import
creates a new space, all or nothing; a damaged, truncated or hostile bundle,
or one made with another embedder (without ``--reembed``), is refused with
one line on stderr (exit 2) and changes nothing.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.cli.output import Handler, acting
from app.operations import bundles as ops
from app.settings import Settings
from app.spaces.space_manager import SpaceManager


def add_commands(sub: Any) -> None:
    """Register ``export`` and ``import``."""
    e = sub.add_parser("export", help="write the space to one portable bundle (admins)")
    e.add_argument("space_id")
    e.add_argument("file", metavar="FILE.tar.zst")
    e.add_argument("--json", action="store_true")
    i = sub.add_parser("import", help="recreate a space from a bundle, all or nothing")
    i.add_argument("file", metavar="FILE.tar.zst")
    i.add_argument("--as", dest="new_id", metavar="NEW_ID", help="import under another space id")
    i.add_argument("--owner", help="the new space's owner (default: the bundle's)")
    i.add_argument("--reembed", action="store_true", help="embed memories again with ours")
    i.add_argument("--json", action="store_true")


def _print(args: argparse.Namespace, done: ops.Transfer, human: str) -> int:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(done.counts.items()))
    print(json.dumps(done.to_json(), indent=2) if args.json else f"{human} ({counts})")
    return 0


def export(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces export``: the space as one bundle (admins)."""
    with SpaceManager(settings) as manager:
        done = ops.export_space(manager, args.space_id, acting(manager, args), args.file)
    return _print(args, done, f"exported {done.space_id} to {done.path}")


def import_(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces import``: a new space from a bundle, all or nothing."""
    with SpaceManager(settings) as manager:
        done = ops.import_space(
            manager, args.file, new_id=args.new_id, owner=args.owner, reembed=args.reembed
        )
    return _print(args, done, f"imported {done.path} as space {done.space_id}")


COMMANDS: dict[str, Handler] = {"export": export, "import": import_}

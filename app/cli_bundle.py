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

from app.settings import Settings


def add_bundle_commands(sub: Any) -> None:
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


def bundle_command(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out ``export`` or ``import``; return the exit code."""
    from app.spaces.portability.transfer import export_space, import_space
    from app.spaces.space_manager import SpaceManager

    with SpaceManager(settings) as manager:
        if args.command == "export":
            actor = args.user or manager.get_space(args.space_id).owner_id
            done = export_space(manager, args.space_id, actor, args.file)
            human = f"exported {done.space_id} to {done.path}"
        else:
            done = import_space(
                manager, args.file, new_id=args.new_id, owner=args.owner, reembed=args.reembed
            )
            human = f"imported {done.path} as space {done.space_id}"
    counts = ", ".join(f"{k} {v}" for k, v in sorted(done.counts.items()))
    print(json.dumps(done.to_json(), indent=2) if args.json else f"{human} ({counts})")
    return 0

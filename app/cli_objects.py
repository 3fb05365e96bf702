"""``spaces objects ...``: documents with versions, from the shell.

Each subcommand prints one JSON document with ``--json``; bad input (a
missing file, a directory, a name collision, a basename mismatch, a file
over the size cap) prints one line on stderr and exits 2, changing nothing.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from app.settings import Settings
from app.text import printable


def add_objects_commands(sub: Any) -> None:
    """Register ``spaces objects`` and its subcommands."""
    o = sub.add_parser("objects", help="objects (files with versions) in a space")
    osub = o.add_subparsers(dest="objects_command", required=True, parser_class=type(o))

    def command(name: str, text: str, *args: str) -> argparse.ArgumentParser:
        p = osub.add_parser(name, help=text, aliases=["add"] if name == "create" else [])
        p.add_argument("space_id")
        for arg in args:
            p.add_argument(arg)
        p.add_argument("--json", action="store_true")
        return p

    command("create", "create an object from a file (its first version); alias: add", "file")
    command("list", "list the space's objects")
    command("versions", "list an object's versions", "object")
    command("add-version", "ingest a new copy of the object's file", "object", "file")
    command("activate", "let the object contribute to prompts", "object")
    command("deactivate", "keep the object out of prompts", "object")
    s = command("set-version", "mark a version active or inactive", "version_id")
    s.add_argument("status", choices=["active", "inactive"])


def objects_command(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one ``spaces objects`` subcommand; return the exit code."""
    from app.spaces.space_manager import SpaceManager
    from app.spaces.stores.documents import DocumentStore

    with SpaceManager(settings) as manager:
        store = DocumentStore(manager)
        action = args.objects_command
        if action in ("create", "add"):
            obj, version = store.create_object(args.space_id, args.file)
            doc: Any = {"object": obj.to_json(), "version": version.to_json()}
            human = f"object {obj.id} {obj.name}: version {version.id} {version.status}"
            if version.error:
                human += f" ({version.error})"
        elif action == "list":
            objects = store.list_objects(args.space_id)
            doc = [o.to_json() for o in objects]
            human = (
                "\n".join(
                    f"{o.id:>4} {o.name:<40} {'active' if o.active else 'inactive':<9} "
                    f"{o.active_versions}/{o.versions} versions active"
                    for o in objects
                )
                or "no objects"
            )
        elif action == "versions":
            versions = store.list_versions(args.space_id, args.object)
            doc = [v.to_json() for v in versions]
            human = "\n".join(
                f"{v.id:>4} {v.ingested_at:%Y-%m-%d %H:%M:%S} {v.status:<8} {v.original_path}"
                + (f"  ({v.error})" if v.error else "")
                for v in versions
            )
        elif action == "add-version":
            version = store.add_version(args.space_id, args.object, args.file)
            doc = version.to_json()
            human = f"version {version.id} {version.status}" + (
                f" ({version.error})" if version.error else ""
            )
        elif action in ("activate", "deactivate"):
            obj = store.set_object_active(args.space_id, args.object, action == "activate")
            doc = obj.to_json()
            human = f"object {obj.name} is {'active' if obj.active else 'inactive'}"
        else:
            version = store.set_version_status(args.space_id, args.version_id, args.status)
            doc = version.to_json()
            human = f"version {version.id} is {version.status}"
    print(json.dumps(doc, indent=2) if args.json else printable(human, keep_newlines=True))
    return 0

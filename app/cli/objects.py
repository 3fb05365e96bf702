"""``spaces objects ...``: documents with versions, from the shell.

Each subcommand prints one JSON document with ``--json``; bad input (a
missing file, a directory, a name collision, a basename mismatch, a file
over the size cap) prints one line on stderr and exits 2, changing nothing.
Any member lists; operators and admins change (``app/operations/objects.py``).
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import Handler, acting, emit
from app.operations import objects as ops
from app.settings import Settings
from app.spaces.space_manager import SpaceManager


def add_commands(sub: Any) -> None:
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


def _error(version: Any) -> str:
    return f" ({version.error})" if version.error else ""


def _create(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    obj, version = ops.create_object(m, args.space_id, actor, args.file)
    human = f"object {obj.id} {obj.name}: version {version.id} {version.status}{_error(version)}"
    return emit(args, {"object": obj.to_json(), "version": version.to_json()}, human)


def _list(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    objects = ops.list_objects(m, args.space_id, actor)
    lines = [
        f"{o.id:>4} {o.name:<40} {'active' if o.active else 'inactive':<9} "
        f"{o.active_versions}/{o.versions} versions active"
        for o in objects
    ]
    return emit(args, [o.to_json() for o in objects], "\n".join(lines) or "no objects")


def _versions(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    versions = ops.list_versions(m, args.space_id, actor, args.object)
    lines = [
        f"{v.id:>4} {v.ingested_at:%Y-%m-%d %H:%M:%S} {v.status:<8} {v.original_path}"
        + (f"  ({v.error})" if v.error else "")
        for v in versions
    ]
    return emit(args, [v.to_json() for v in versions], "\n".join(lines))


def _add_version(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    version = ops.add_version(m, args.space_id, actor, args.object, args.file)
    human = f"version {version.id} {version.status}{_error(version)}"
    return emit(args, version.to_json(), human)


def _active(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    on = args.objects_command == "activate"
    obj = ops.set_object_active(m, args.space_id, actor, args.object, on)
    human = f"object {obj.name} is {'active' if obj.active else 'inactive'}"
    return emit(args, obj.to_json(), human)


def _set_version(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    version = ops.set_version_status(m, args.space_id, actor, args.version_id, args.status)
    return emit(args, version.to_json(), f"version {version.id} is {version.status}")


_SUBCOMMANDS = {
    "create": _create, "add": _create, "list": _list, "versions": _versions,
    "add-version": _add_version, "activate": _active, "deactivate": _active,
    "set-version": _set_version,
}  # fmt: skip


def objects(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one ``spaces objects`` subcommand as ``--user`` (default: the owner)."""
    with SpaceManager(settings) as manager:
        return _SUBCOMMANDS[args.objects_command](args, manager, acting(manager, args))


COMMANDS: dict[str, Handler] = {"objects": objects}

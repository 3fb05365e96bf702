"""``spaces members`` and ``spaces audit``: a space's team and its audit log.

Any member lists the members; admins add, change and remove them and read
the audit log (``roles.RULE``, checked by ``app/operations/``). ``--user U``
says who acts; without it the local CLI acts as the space's owner.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import Handler, acting, emit
from app.operations import members as ops
from app.operations.spaces import audit_log
from app.settings import Settings
from app.spaces.space_manager import SpaceManager
from app.text import printable


def add_commands(sub: Any) -> None:
    """Register ``members`` and ``audit``."""
    m = sub.add_parser("members", help="members of a space and their roles")
    msub = m.add_subparsers(dest="members_command", required=True, parser_class=type(m))
    for name, text in (
        ("add", "add a member, or change a member's role (admins)"),
        ("remove", "remove a member (admins); their access ends at once"),
        ("list", "list the members and their roles"),
    ):
        p = msub.add_parser(name, help=text)
        p.add_argument("space_id")
        if name != "list":
            p.add_argument("member")
        if name == "add":
            p.add_argument("--role", default="member", help="member, operator or admin")
        p.add_argument("--json", action="store_true")
    a = sub.add_parser("audit", help="the space's audit log (admins)")
    a.add_argument("space_id")
    a.add_argument("--since", metavar="T", help="from this ISO 8601 date or time")
    a.add_argument("--actor", metavar="U", help="only entries by this user")
    a.add_argument(
        "--limit", type=int, default=1_000,
        help="the newest N entries (printed oldest first, like tail)",
    )  # fmt: skip
    a.add_argument("--json", action="store_true")


def _list(args: argparse.Namespace, manager: SpaceManager, actor: str) -> int:
    found = ops.list_members(manager, args.space_id, actor)
    lines = [  # an id from an old bundle may hold a newline: one member, one line
        f"{printable(m.user_id):<24} {m.role:<9} added by {printable(m.added_by)}" for m in found
    ]
    return emit(args, [m.to_json() for m in found], "\n".join(lines))


def _add(args: argparse.Namespace, manager: SpaceManager, actor: str) -> int:
    member = ops.add_member(manager, args.space_id, actor, args.member, args.role)
    return emit(args, member.to_json(), f"{member.user_id} is a {member.role} of {args.space_id}")


def _remove(args: argparse.Namespace, manager: SpaceManager, actor: str) -> int:
    ops.remove_member(manager, args.space_id, actor, args.member)
    doc = {"space_id": args.space_id, "removed": args.member}
    return emit(args, doc, f"{args.member} was removed from {args.space_id}")


_MEMBERS = {"list": _list, "add": _add, "remove": _remove}


def members(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces members list | add | remove``."""
    with SpaceManager(settings) as manager:
        return _MEMBERS[args.members_command](args, manager, acting(manager, args))


def audit(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces audit``: the newest ``--limit`` entries, oldest first (admins)."""
    with SpaceManager(settings) as manager:
        entries = audit_log(
            manager, args.space_id, acting(manager, args), since=args.since, by=args.actor,
            limit=args.limit, newest=True,
        )  # fmt: skip
    lines = [
        f"{e.at:%Y-%m-%d %H:%M:%S} {e.actor:<16} {e.action:<20} {e.outcome:<8} "
        f"{e.target}" + (f" ({e.request_id})" if e.request_id else "")
        for e in entries
    ]
    return emit(args, [e.to_json() for e in entries], "\n".join(lines) or "no entries")


COMMANDS: dict[str, Handler] = {"members": members, "audit": audit}

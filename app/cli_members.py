"""``spaces members``, ``spaces audit`` and the role check of every CLI command.

``--user U`` says who is acting; without it the local CLI acts as the
space's owner (as ``spaces run`` does). ``run_guarded`` wraps every command:
it asks the one rule (``roles.RULE``) whether the user's role allows the
command's action, and for writes appends one audit entry with the outcome.
``spaces list --user U`` lists the spaces U is a member of, with U's role.
Run commands (``run``, ``research``, ``resume``) are checked by the graphs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from app.settings import Settings
from app.spaces.access.roles import Action
from app.text import printable

Run = Callable[[argparse.Namespace, Settings], int]

# command (or "objects <sub>") -> (action, audit event or None for reads)
GUARDED: dict[str, tuple[Action, str | None]] = {
    "show": (Action.READ, None),
    "usage": (Action.READ, None),
    "archive": (Action.ARCHIVE, "space.archive"),
    "activate": (Action.ARCHIVE, "space.activate"),
    "objects list": (Action.READ, None),
    "objects versions": (Action.READ, None),
    "objects add": (Action.MANAGE_OBJECTS, "object.add"),
    "objects add-version": (Action.MANAGE_OBJECTS, "version.add"),
    "objects activate": (Action.MANAGE_OBJECTS, "object.activate"),
    "objects deactivate": (Action.MANAGE_OBJECTS, "object.deactivate"),
    "objects set-version": (Action.MANAGE_OBJECTS, "version.set_status"),
    # Memory: anyone who may read the space may read its memories; writing or
    # deleting them is curating the space (operators); the bulk copy is an export.
    "memory list": (Action.READ, None),
    "memory search": (Action.READ, None),
    "memory stats": (Action.READ, None),
    "memory export": (Action.EXPORT, "memory.export"),
    "memory add": (Action.MANAGE_OBJECTS, "memory.add"),
    "memory delete": (Action.MANAGE_OBJECTS, "memory.delete"),
    "memory import": (Action.MANAGE_OBJECTS, "memory.import"),
    "memory prune": (Action.MANAGE_OBJECTS, "memory.prune"),
    "recall": (Action.READ, None),
    "reindex": (Action.READ, None),  # derived from the vault; recall does it too
}
OWN_COMMANDS = ("members", "audit", "export", "import", "set")


def add_members_commands(sub: Any) -> None:
    """Register ``members``, ``audit``, ``export``, ``import``, and ``--user`` everywhere."""
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
    u = sub.add_parser("set", help="change the space's budgets or preferred model (admins)")
    u.add_argument("space_id")
    # The names `create` takes, README's first: --monthly-token-budget is --token-budget.
    u.add_argument("--monthly-token-budget", "--token-budget", dest="token_budget", type=int)
    u.add_argument("--monthly-api-calls", "--api-call-budget", dest="api_call_budget", type=int)
    u.add_argument("--preferred-model", "--model", dest="model")
    u.add_argument("--json", action="store_true")
    from app.cli_bundle import add_bundle_commands

    add_bundle_commands(sub)
    _add_user_flags(sub)


def _add_user_flags(sub: argparse._SubParsersAction, *, top: bool = True) -> None:
    """Give every (nested) subcommand a ``--user`` option, unless it has one."""
    for name, parser in sub.choices.items():
        if top and name in ("create", "down", "import"):  # name their owner, or touch no space
            continue
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for inner in nested:
            _add_user_flags(inner, top=False)
        if not nested and "--user" not in parser._option_string_actions:
            parser.add_argument("--user", help="act as this user (default: the space's owner)")


def _key(args: argparse.Namespace) -> str:
    sub = getattr(args, "objects_command", None) or getattr(args, "memory_command", None)
    return f"{args.command} {sub}" if sub else args.command


def _target(args: argparse.Namespace) -> str:
    for name in ("version_id", "object", "file"):
        if getattr(args, name, None):
            return str(getattr(args, name))
    return args.space_id


def _print(args: argparse.Namespace, doc: Any, human: str) -> None:
    """One JSON document, or ``human`` with control characters escaped (ids come from data)."""
    json_out = getattr(args, "json", False)
    print(
        json.dumps(doc, indent=2, default=str) if json_out else printable(human, keep_newlines=True)
    )


def run_guarded(args: argparse.Namespace, settings: Settings, run: Run) -> int:
    """Check the acting user's role for ``args``' command, run it, audit a write."""
    from app.spaces.access.members import audited, record_creation
    from app.spaces.access.roles import require
    from app.spaces.space_manager import SpaceManager

    if args.command in OWN_COMMANDS:
        return _own_command(args, settings)
    if args.command == "list" and getattr(args, "user", None):
        return _list_for(args, settings)
    guard = GUARDED.get(_key(args))
    if guard is None:
        code = run(args, settings)
        if args.command == "create" and code == 0:
            with SpaceManager(settings) as manager:
                record_creation(manager, manager.get_space(args.space_id))
        return code
    action, event = guard
    space_id = getattr(args, "space_id", None)
    if space_id is None:  # `spaces usage --owner U`: the owner's own list
        return run(args, settings)
    with SpaceManager(settings) as manager:
        actor = args.user or manager.get_space(space_id).owner_id
        if event is None:
            require(manager, space_id, actor, action)
            return run(args, settings)
        with audited(manager, space_id, actor, action, event, target=_target(args)):
            return run(args, settings)


def _list_for(args: argparse.Namespace, settings: Settings) -> int:
    from app.spaces.access.roles import spaces_of
    from app.spaces.space_manager import SpaceManager

    with SpaceManager(settings) as manager:
        found = spaces_of(manager, args.user)
        docs = [
            {**c.to_json(), "role": r.value, "vault_dir": str(manager.vault_root(c))}
            for c, r in found
        ]
    lines = [
        f"{c.space_id:<24} {c.status.value:<9} {r.value:<9} {c.owner_id:<16} {c.name}"
        for c, r in found
    ]
    _print(args, docs, "\n".join(lines) or "no spaces")
    return 0


def _own_command(args: argparse.Namespace, settings: Settings) -> int:
    from app.spaces.access import members
    from app.spaces.access.roles import require
    from app.spaces.space_manager import SpaceManager
    from app.spaces.stores import audit

    if args.command in ("export", "import"):
        from app.cli_bundle import bundle_command

        return bundle_command(args, settings)
    with SpaceManager(settings) as manager:
        actor = args.user or manager.get_space(args.space_id).owner_id
        if args.command == "set":
            from app.spaces.access.space_settings import update_space

            config = update_space(
                manager, args.space_id, actor, token_budget=args.token_budget,
                api_call_budget=args.api_call_budget, model=args.model,
            )  # fmt: skip
            human = (
                f"space {config.space_id}: {config.monthly_token_budget:,} tokens, "
                f"{config.monthly_api_calls:,} calls a month, model {config.preferred_model}"
            )
            _print(args, config.to_json(), human)
        elif args.command == "audit":
            since = audit.parse_since(args.since)
            access = require(manager, args.space_id, actor, Action.READ_AUDIT)
            entries = audit.read(
                manager.backends.pool, access.config.postgres_schema,
                since=since, actor=args.actor, limit=args.limit, newest=True,
            )  # fmt: skip
            lines = [
                f"{e.at:%Y-%m-%d %H:%M:%S} {e.actor:<16} {e.action:<20} {e.outcome:<8} "
                f"{e.target}" + (f" ({e.request_id})" if e.request_id else "")
                for e in entries
            ]
            _print(args, [e.to_json() for e in entries], "\n".join(lines) or "no entries")
        elif args.members_command == "list":
            found = members.list_members(manager, args.space_id, actor)
            lines = [  # an id from an old bundle may hold a newline: one member, one line
                f"{printable(m.user_id):<24} {m.role:<9} added by {printable(m.added_by)}"
                for m in found
            ]
            _print(args, [m.to_json() for m in found], "\n".join(lines))
        elif args.members_command == "add":
            member = members.add_member(manager, args.space_id, actor, args.member, args.role)
            human = f"{member.user_id} is a {member.role} of {args.space_id}"
            _print(args, member.to_json(), human)
        else:
            members.remove_member(manager, args.space_id, actor, args.member)
            doc = {"space_id": args.space_id, "removed": args.member}
            _print(args, doc, f"{args.member} was removed from {args.space_id}")
    return 0

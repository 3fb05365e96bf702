"""``spaces create | list | show | archive | activate | usage | set``: the spaces themselves.

Each command parses its arguments, calls one operation
(``app/operations/spaces.py``) and prints the result; the role check and
the audit entry are the operation's. ``spaces list`` and ``spaces usage``
without ``--user`` are the local operator's view of every space.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.output import Handler, acting, emit
from app.errors import InvalidInput
from app.operations import spaces as ops
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager


def _budget_flags(p: argparse.ArgumentParser, default: bool) -> None:
    """The budget and model flags of ``create`` and ``set``, README's names first."""
    p.add_argument(
        "--monthly-token-budget", "--token-budget", dest="token_budget", type=int,
        default=1_000_000 if default else None,
    )  # fmt: skip
    p.add_argument(
        "--monthly-api-calls", "--api-call-budget", dest="api_call_budget", type=int,
        default=10_000 if default else None,
    )  # fmt: skip
    p.add_argument(
        "--preferred-model", "--model", dest="model", default=None,
        help="the space's preferred model, e.g. offline or openai:gpt-4o",
    )  # fmt: skip


def add_commands(sub: Any) -> None:
    """Register the commands on spaces themselves."""
    c = sub.add_parser("create", help="create a space and provision its stores")
    c.add_argument("space_id")
    c.add_argument("--name", required=True)
    c.add_argument("--owner", required=True)
    c.add_argument("--description", default="")
    _budget_flags(c, default=True)
    c.add_argument("--json", action="store_true")

    ls = sub.add_parser("list", help="list spaces")
    ls.add_argument("--owner")
    ls.add_argument("--json", action="store_true")

    sh = sub.add_parser("show", help="show one space")
    sh.add_argument("space_id")
    sh.add_argument("--json", action="store_true")

    for name, text in (("archive", "archive a space"), ("activate", "reactivate a space")):
        a = sub.add_parser(name, help=text)
        a.add_argument("space_id")
        a.add_argument("--json", action="store_true")

    u = sub.add_parser("usage", help="this month's usage against the budget")
    u.add_argument("space_id", nargs="?")
    u.add_argument("--owner")
    u.add_argument("--json", action="store_true")

    s = sub.add_parser("set", help="change the space's budgets or preferred model (admins)")
    s.add_argument("space_id")
    _budget_flags(s, default=False)
    s.add_argument("--json", action="store_true")


def _doc(manager: SpaceManager, config: SpaceConfig) -> dict[str, Any]:
    return {**config.to_json(), "vault_dir": str(manager.vault_root(config))}


def create(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces create``: a new space owned by ``--owner``."""
    config = SpaceConfig(
        space_id=args.space_id, name=args.name, owner_id=args.owner,
        description=args.description, monthly_token_budget=args.token_budget,
        monthly_api_calls=args.api_call_budget, preferred_model=args.model,
    )  # fmt: skip
    with SpaceManager(settings) as manager:
        created = ops.create_space(manager, config)
        human = f"created space {created.space_id}; vault: {manager.vault_root(created)}"
        return emit(args, _doc(manager, created), human)


def list_spaces(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces list``: every space (or ``--owner``'s); with ``--user``, that user's, with roles."""
    with SpaceManager(settings) as manager:
        if getattr(args, "user", None):
            found = ops.member_spaces(manager, args.user)
            docs = [{**_doc(manager, c), "role": r.value} for c, r in found]
            lines = [
                f"{c.space_id:<24} {c.status.value:<9} {r.value:<9} {c.owner_id:<16} {c.name}"
                for c, r in found
            ]
        else:
            spaces = manager.list_spaces(args.owner)
            docs = [_doc(manager, s) for s in spaces]
            lines = [
                f"{s.space_id:<24} {s.status.value:<9} {s.owner_id:<16} {s.name}" for s in spaces
            ]
    return emit(args, docs, "\n".join(lines) or "no spaces")


def show(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces show``: one space, for any member."""
    with SpaceManager(settings) as manager:
        doc = _doc(manager, ops.show_space(manager, args.space_id, acting(manager, args)))
    return emit(args, doc, "\n".join(f"{k}: {v}" for k, v in doc.items()))


def archive(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces archive`` / ``spaces activate`` (admins)."""
    act = ops.archive_space if args.command == "archive" else ops.activate_space
    with SpaceManager(settings) as manager:
        config = act(manager, args.space_id, acting(manager, args))
        doc = _doc(manager, config)
    return emit(args, doc, f"space {config.space_id} is {config.status.value}")


def usage(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces usage [SPACE | --owner U]``: this month's usage against the budget."""
    if args.space_id and args.owner:
        raise InvalidInput("give a space id or --owner, not both")
    with SpaceManager(settings) as manager:
        if args.space_id:
            rows = [ops.space_usage(manager, args.space_id, acting(manager, args))]
        else:  # the local operator's view: every space, or one owner's
            found = manager.list_spaces(args.owner)
            rows = [manager.get_usage(c.space_id).document(c) for c in found]
    lines = [
        f"{r['space_id']:<24} {r['month']} tokens {r['tokens_used']:,}/"
        f"{r['monthly_token_budget']:,} ({r['tokens_remaining']:,} left) "
        f"calls {r['api_calls_used']:,}/{r['monthly_api_calls']:,} ${r['cost_usd']:.4f}"
        for r in rows
    ]
    return emit(args, rows[0] if args.space_id else rows, "\n".join(lines) or "no spaces")


def change(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces set``: budgets and preferred model (admins), each change audited."""
    with SpaceManager(settings) as manager:
        config = ops.update_space(
            manager, args.space_id, acting(manager, args), token_budget=args.token_budget,
            api_call_budget=args.api_call_budget, model=args.model,
        )  # fmt: skip
    human = (
        f"space {config.space_id}: {config.monthly_token_budget:,} tokens, "
        f"{config.monthly_api_calls:,} calls a month, model {config.preferred_model}"
    )
    return emit(args, config.to_json(), human)


COMMANDS: dict[str, Handler] = {
    "create": create,
    "list": list_spaces,
    "show": show,
    "archive": archive,
    "activate": archive,
    "usage": usage,
    "set": change,
}

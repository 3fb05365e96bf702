"""The ``spaces`` command line.

User errors (bad ids, unknown or archived spaces, bad numbers) print one line
on stderr and exit 2; a store that is down prints one line and exits 1.
``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from app.cli_agents import add_agents_commands, agents_command, chat_command, sessions_command
from app.cli_members import add_members_commands, run_guarded
from app.cli_memory import COMMANDS as MEMORY_COMMANDS
from app.cli_memory import add_memory_commands, memory_command
from app.cli_objects import add_objects_commands, objects_command
from app.cli_runs import add_run_commands, run_command, runs_command
from app.cli_serve import add_serve_command, serve_command
from app.cli_ui import add_ui_command, ui_command
from app.errors import InvalidInput, SpacesError
from app.failures import STORE_ERRORS, store_failure
from app.llm import local as local_model
from app.services.aegra import stop_instances
from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.services.redis import stop_redis
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig, SpaceUsage
from app.spaces.space_manager import SpaceManager
from app.text import printable


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"spaces: {message} (see 'spaces --help')\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="spaces", description="Manage isolated project spaces.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("create", help="create a space and provision its stores")
    c.add_argument("space_id")
    c.add_argument("--name", required=True)
    c.add_argument("--owner", required=True)
    c.add_argument("--description", default="")
    c.add_argument(
        "--monthly-token-budget", "--token-budget", dest="token_budget", type=int, default=1_000_000
    )
    c.add_argument(
        "--monthly-api-calls", "--api-call-budget", dest="api_call_budget", type=int, default=10_000
    )
    c.add_argument(
        "--preferred-model",
        "--model",
        dest="model",
        default=None,
        help="the space's preferred model, e.g. offline or openai:gpt-4o",
    )
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

    sub.add_parser("down", help="stop the embedded services this project started")
    m = sub.add_parser("model", help="the local model (build it first: make local-model)")
    m.add_argument("action", choices=["serve"], help="serve: start it on loopback")
    add_run_commands(sub)
    add_objects_commands(sub)
    add_memory_commands(sub)
    add_serve_command(sub)
    add_ui_command(sub)
    add_agents_commands(sub)
    add_members_commands(sub)  # also gives every command --user (roles checked in run_guarded)
    return p


def _space_json(manager: SpaceManager, config: SpaceConfig) -> dict[str, Any]:
    return {**config.to_json(), "vault_dir": str(manager.vault_root(config))}


def _usage_json(config: SpaceConfig, usage: SpaceUsage) -> dict[str, Any]:
    return usage.document(config)


def _emit(args: argparse.Namespace, doc: Any, human: str) -> None:
    json_out = getattr(args, "json", False)
    print(
        json.dumps(doc, indent=2, default=str) if json_out else printable(human, keep_newlines=True)
    )


_TEAM = {"agents": agents_command, "chat": chat_command, "sessions": sessions_command}


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in ("run", "resume", "research"):
        return run_command(args, settings)
    if args.command == "objects":
        return objects_command(args, settings)
    if args.command == "runs":
        return runs_command(args, settings)
    if args.command in MEMORY_COMMANDS:
        return memory_command(args, settings)
    if args.command == "serve":
        return serve_command(args, settings)
    if args.command == "ui":
        return ui_command(args, settings)
    if args.command in _TEAM:
        return _TEAM[args.command](args, settings)
    if args.command == "model":
        state = local_model.serve(settings)
        print("\n".join(f"export {k}={v}" for k, v in local_model.model_env(state).items()))
        return 0
    if args.command == "down":
        services = (("aegra", stop_instances), ("redis", stop_redis), ("postgres", stop_postgres),
                    ("falkordb", stop_graph_server), ("local model", local_model.stop))  # fmt: skip
        stopped = [name for name, stop in services if stop(settings)]
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    with SpaceManager(settings) as manager:
        if args.command == "create":
            config = manager.create_space(
                SpaceConfig(
                    space_id=args.space_id,
                    name=args.name,
                    owner_id=args.owner,
                    description=args.description,
                    monthly_token_budget=args.token_budget,
                    monthly_api_calls=args.api_call_budget,
                    preferred_model=args.model,
                )
            )
            _emit(
                args,
                _space_json(manager, config),
                f"created space {config.space_id}; vault: {manager.vault_root(config)}",
            )
        elif args.command == "list":
            spaces = manager.list_spaces(args.owner)
            lines = [
                f"{s.space_id:<24} {s.status.value:<9} {s.owner_id:<16} {s.name}" for s in spaces
            ]
            _emit(
                args,
                [_space_json(manager, s) for s in spaces],
                "\n".join(lines) or "no spaces",
            )
        elif args.command == "show":
            config = manager.get_space(args.space_id)
            doc = _space_json(manager, config)
            _emit(args, doc, "\n".join(f"{k}: {v}" for k, v in doc.items()))
        elif args.command in ("archive", "activate"):
            action = manager.archive_space if args.command == "archive" else manager.activate_space
            config = action(args.space_id)
            _emit(
                args,
                _space_json(manager, config),
                f"space {config.space_id} is {config.status.value}",
            )
        elif args.command == "usage":
            if args.space_id:
                if args.owner:
                    raise InvalidInput("give a space id or --owner, not both")
                configs = [manager.get_space(args.space_id)]
            else:
                configs = manager.list_spaces(args.owner)
            rows = [_usage_json(c, manager.get_usage(c.space_id)) for c in configs]
            lines = [
                f"{r['space_id']:<24} {r['month']} tokens {r['tokens_used']:,}/"
                f"{r['monthly_token_budget']:,} ({r['tokens_remaining']:,} left) "
                f"calls {r['api_calls_used']:,}/{r['monthly_api_calls']:,} "
                f"${r['cost_usd']:.4f}"
                for r in rows
            ]
            _emit(args, rows if not args.space_id else rows[0], "\n".join(lines) or "no spaces")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spaces`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return run_guarded(args, Settings.from_env(), _run)
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


if __name__ == "__main__":
    sys.exit(main())

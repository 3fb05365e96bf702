"""``spaces agents``, ``spaces chat`` and ``spaces sessions``: a space's team from the shell.

The CLI is a local, trusted client: it acts as ``--user`` (default: the
space's owner). The role check is ``app/operations/agents.py``'s (the same
as REST's), so another user's space answers "no space", exactly like a
missing one; ``chat`` is checked as a run. Bad input prints one line and
exits 2; a store that is down, exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.cli.output import Handler, acting, emit
from app.errors import InvalidInput
from app.operations import agents as ops
from app.operations.access import for_runs
from app.settings import Settings
from app.spaces.space_manager import SpaceManager
from app.text import printable


def add_commands(sub: Any) -> None:
    """Register ``spaces agents``, ``spaces chat`` and ``spaces sessions``."""
    a = sub.add_parser("agents", help="the personal agents of a space")
    asub = a.add_subparsers(dest="agents_command", required=True, parser_class=type(a))

    def command(parent: Any, name: str, text: str, *args: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=text)
        p.add_argument("space_id")
        for arg in args:
            p.add_argument(arg)
        p.add_argument("--user", help="act as this user (default: the space's owner)")
        p.add_argument("--json", action="store_true")
        return p

    for name, required in (("create", True), ("update", False)):
        p = command(asub, name, f"{name} an agent (each update is a new version)", "name")
        p.add_argument("--prompt", required=required, help="the agent's system prompt")
        p.add_argument(
            "--model",
            help="e.g. offline or openai:gpt-4o-mini"
            + (" (default: the space's preferred model, else SPACES_MODEL)" if required else ""),
        )
        p.add_argument("--tools", help="comma-separated tool names")
        p.add_argument("--concurrency", type=int, default=1 if required else None)
    ls = command(asub, "list", "the space's agents (current versions)")
    ls.add_argument("--all", action="store_true", help="include deleted agents")
    sh = command(asub, "show", "one agent, or one of its versions", "name")
    sh.add_argument("--version", type=int)
    sh.add_argument("--versions", action="store_true", help="every version")
    command(asub, "delete", "soft-delete an agent (its history stays readable)", "name")
    c = command(asub, "context", "an agent's own context in the space's memory", "name")
    c.add_argument("action", choices=["stats", "export", "clear", "prune"])
    c.add_argument("--before", help="prune: drop interactions before this date (YYYY-MM-DD)")

    chat = command(sub, "chat", "send a message: '@agent ...' directly, else orchestrated", "text")
    chat.add_argument("--session", help="continue this session (default: a new one)")
    chat.add_argument("--model", help="the planner's model for this turn")
    decide = chat.add_mutually_exclusive_group()
    decide.add_argument("--approve", action="store_true", help="approve what the turn asks")
    decide.add_argument("--reject", action="store_true", help="decline what the turn asks")

    s = sub.add_parser("sessions", help="chat sessions of a space")
    ssub = s.add_subparsers(dest="sessions_command", required=True, parser_class=type(s))
    command(ssub, "list", "the space's sessions")
    command(ssub, "show", "a session's messages, tasks and archives", "session_id")


def _agent_line(agent: Any) -> str:
    gone = " (deleted)" if agent.deleted else ""
    return (
        f"{agent.name:<20} v{agent.version:<3} {agent.status:<6} {agent.model:<24} "
        f"tools: {','.join(agent.tools) or '-'}{gone}"
    )


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _create(args: argparse.Namespace, m: SpaceManager, user: str) -> int:
    agent = ops.create_agent(
        m, args.space_id, user, args.name, system_prompt=args.prompt, model=args.model,
        tools=_split(args.tools), concurrency_limit=args.concurrency,
    )  # fmt: skip
    return emit(args, agent.to_json(), f"created agent {agent.agent_id}")


def _update(args: argparse.Namespace, m: SpaceManager, user: str) -> int:
    agent = ops.update_agent(
        m, args.space_id, user, args.name, system_prompt=args.prompt, model=args.model,
        tools=_split(args.tools), concurrency_limit=args.concurrency,
    )  # fmt: skip
    return emit(args, agent.to_json(), f"updated agent {agent.agent_id}")


def _list(args: argparse.Namespace, m: SpaceManager, user: str) -> int:
    agents = ops.list_agents(m, args.space_id, user, include_deleted=args.all)
    human = "\n".join(_agent_line(a) for a in agents) or "no agents"
    return emit(args, [a.to_json() for a in agents], human)


def _show(args: argparse.Namespace, m: SpaceManager, user: str) -> int:
    if args.versions:
        versions = ops.agent_versions(m, args.space_id, user, args.name)
        human = "\n".join(_agent_line(a) for a in versions)
        return emit(args, [a.to_json() for a in versions], human)
    doc = ops.show_agent(m, args.space_id, user, args.name, args.version).to_json()
    return emit(args, doc, "\n".join(f"{k}: {v}" for k, v in doc.items()))


def _delete(args: argparse.Namespace, m: SpaceManager, user: str) -> int:
    agent = ops.delete_agent(m, args.space_id, user, args.name)
    return emit(args, agent.to_json(), f"deleted agent {agent.name} (history kept)")


def _context(args: argparse.Namespace, m: SpaceManager, user: str) -> int:
    context = ops.agent_context(m, args.space_id, user, args.name)
    if args.action == "export":
        for row in context.export():
            print(json.dumps(row, default=str))
        return 0
    if args.action == "stats":
        doc: Any = context.stats()
        return emit(args, doc, "\n".join(f"{k}: {v}" for k, v in doc.items()))
    if args.action == "clear":
        removed = context.clear()
        return emit(args, {"removed": removed}, f"removed {removed} interactions")
    removed = context.prune(args.before)
    return emit(args, {"removed": removed}, f"removed {removed} interactions before {args.before}")


_AGENTS = {
    "create": _create, "update": _update, "list": _list, "show": _show, "delete": _delete,
    "context": _context,
}  # fmt: skip


def agents(args: argparse.Namespace, settings: Settings) -> int:
    """One ``spaces agents`` subcommand, as ``--user`` (default: the space's owner)."""
    with SpaceManager(settings) as manager:
        return _AGENTS[args.agents_command](args, manager, acting(manager, args))


def chat(args: argparse.Namespace, settings: Settings) -> int:
    """Send one message (or answer the session's pending approval) and print the turn."""
    from app.graphs.chat.client import ChatClient
    from app.graphs.deps import Deps

    deps = Deps.from_settings(settings)
    try:
        manager = deps.manager()
        user = acting(manager, args)
        space = for_runs(manager, args.space_id, user)  # refused before any thread is made
        answer = "approve" if args.approve else "reject" if args.reject else None
        turn = ChatClient(deps).send(
            space.config.space_id, user, args.text, session_id=args.session,
            model=args.model, answer=answer, on_event=_progress,
        )  # fmt: skip
    finally:
        deps.backends.close()
    doc = turn.to_json()
    if turn.refused:  # nothing ran: one line, exit 2 (the document too, with --json)
        if args.json:
            emit(args, doc, "")
        raise InvalidInput(turn.error or f"the turn was refused ({turn.status})")
    human = f"[{turn.status}] session {turn.session_id}\n{turn.reply or turn.error or ''}".rstrip()
    if turn.status == "awaiting_approval":
        human += "\n" + json.dumps(turn.request, indent=2, default=str)
    emit(args, doc, human)
    if turn.status in ("failed", "budget_exceeded"):
        why = turn.error or turn.status
        print(printable(f"spaces: chat {turn.status} (session {turn.session_id}): {why}"),
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _progress(event: dict[str, Any]) -> None:
    payload = event.get("payload") or {}
    detail = " ".join(f"{k}={v}" for k, v in payload.items() if not isinstance(v, dict | list))
    print(f"  … {event.get('event_type')} {detail}"[:200], file=sys.stderr, flush=True)


def sessions(args: argparse.Namespace, settings: Settings) -> int:
    """List the user's sessions in a space, or show one with its messages, tasks and archives."""
    with SpaceManager(settings) as manager:
        user = acting(manager, args)
        if args.sessions_command == "list":
            found = ops.list_sessions(manager, args.space_id, user)
            human = "\n".join(
                f"{s['session_id']}  {s['messages']:>4} messages  {s['title']}" for s in found
            )
            return emit(args, found, human or "no sessions")
        doc = ops.session_detail(manager, args.space_id, user, args.session_id)
    human = "\n".join(
        f"[{m['turn']}] {m['role']}{'@' + m['agent_id'] if m['agent_id'] else ''}: {m['content']}"
        for m in doc["messages"]
    )
    return emit(args, doc, human)


COMMANDS: dict[str, Handler] = {"agents": agents, "chat": chat, "sessions": sessions}

"""``spaces agents``, ``spaces chat`` and ``spaces sessions``: a space's team from the shell.

The CLI is a local, trusted client: it acts as ``--user`` (default: the
space's owner), and every command opens the space through the same check as
a run, so another user's space answers "no space", exactly like a missing
one. Bad input prints one line and exits 2; a store that is down, exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from app.errors import InvalidInput
from app.settings import Settings
from app.text import printable


def add_agents_commands(sub: Any) -> None:
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


@contextmanager
def _space(args: argparse.Namespace, settings: Settings) -> Iterator[Any]:
    """The space opened as ``--user`` (default: its owner), through the runs' own check."""
    from app.graphs.admission import authorize
    from app.graphs.context import RunContext
    from app.graphs.deps import Deps

    deps = Deps.from_settings(settings)
    try:
        manager = deps.manager()
        user = args.user or manager.get_space(args.space_id).owner_id
        yield deps, authorize(manager, RunContext(user_id=user), args.space_id), user
    finally:
        deps.backends.close()


def _agent_line(agent: Any) -> str:
    gone = " (deleted)" if agent.deleted else ""
    return (
        f"{agent.name:<20} v{agent.version:<3} {agent.status:<6} {agent.model:<24} "
        f"tools: {','.join(agent.tools) or '-'}{gone}"
    )


WRITES = {"create": "agent.create", "update": "agent.update", "delete": "agent.delete"}


def agents_command(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one ``spaces agents`` subcommand; return the exit code."""
    from app.spaces.access.members import audited
    from app.spaces.access.roles import Action
    from app.spaces.stores.agents import AgentStore

    action = args.agents_command
    if action == "context":
        return _context_command(args, settings)
    with _space(args, settings) as (deps, space, user), ExitStack() as writing:
        if action in WRITES:  # operators and admins only (roles.RULE), each write audited
            writing.enter_context(
                audited(deps.manager(), args.space_id, user, Action.MANAGE_AGENTS,
                        WRITES[action], target=args.name)
            )  # fmt: skip
        store = AgentStore(space)
        tools = None if args.__dict__.get("tools") is None else _split(args.tools)
        if action == "create":
            agent = store.create(
                args.name, system_prompt=args.prompt, model=args.model, user_id=user,
                tools=tools or [], concurrency_limit=args.concurrency,
            )  # fmt: skip
            doc: Any = agent.to_json()
            human = f"created agent {agent.agent_id}"
        elif action == "update":
            agent = store.update(
                args.name, user_id=user, system_prompt=args.prompt, model=args.model,
                tools=tools, concurrency_limit=args.concurrency,
            )  # fmt: skip
            doc, human = agent.to_json(), f"updated agent {agent.agent_id}"
        elif action == "list":
            agents = store.list(include_deleted=args.all)
            doc = [a.to_json() for a in agents]
            human = "\n".join(_agent_line(a) for a in agents) or "no agents"
        elif action == "show" and args.versions:
            versions = store.versions(args.name)
            doc = [a.to_json() for a in versions]
            human = "\n".join(_agent_line(a) for a in versions)
        elif action == "show":
            agent = store.get(args.name, args.version, include_deleted=True)
            doc = agent.to_json()
            human = "\n".join(f"{k}: {v}" for k, v in doc.items())
        else:
            agent = store.delete(args.name)
            doc, human = agent.to_json(), f"deleted agent {agent.name} (history kept)"
    _print(args, doc, human)
    return 0


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _print(args: argparse.Namespace, doc: Any, human: str) -> None:
    print(json.dumps(doc, indent=2, default=str) if args.json else human)


def _context_command(args: argparse.Namespace, settings: Settings) -> int:
    from app.graphs.chat.agent_context import AgentContext
    from app.spaces.stores.agents import AgentStore

    with _space(args, settings) as (_deps, space, _user):
        agent = AgentStore(space).get(args.name, include_deleted=True)
        context = AgentContext(space, agent.name)
        if args.action == "export":
            for row in context.export():
                print(json.dumps(row, default=str))
            return 0
        if args.action == "stats":
            doc: Any = context.stats()
            human = "\n".join(f"{k}: {v}" for k, v in doc.items())
        elif args.action == "clear":
            doc = {"removed": context.clear()}
            human = f"removed {doc['removed']} interactions"
        else:
            doc = {"removed": context.prune(args.before)}
            human = f"removed {doc['removed']} interactions before {args.before}"
    _print(args, doc, human)
    return 0


def chat_command(args: argparse.Namespace, settings: Settings) -> int:
    """Send one message (or answer the session's pending approval) and print the turn."""
    from app.graphs.chat.client import ChatClient

    with _space(args, settings) as (deps, space, user):
        client = ChatClient(deps)
        answer = "approve" if args.approve else "reject" if args.reject else None
        turn = client.send(
            space.config.space_id, user, args.text, session_id=args.session,
            model=args.model, answer=answer, on_event=_progress,
        )  # fmt: skip
    doc = turn.to_json()
    if turn.refused:  # nothing ran: one line, exit 2 (the document too, with --json)
        if args.json:
            _print(args, doc, "")
        raise InvalidInput(turn.error or f"the turn was refused ({turn.status})")
    human = f"[{turn.status}] session {turn.session_id}\n{turn.reply or turn.error or ''}".rstrip()
    if turn.status == "awaiting_approval":
        human += "\n" + json.dumps(turn.request, indent=2, default=str)
    _print(args, doc, human)
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


def sessions_command(args: argparse.Namespace, settings: Settings) -> int:
    """List a space's sessions, or show one with its messages, tasks and archives."""
    from app.spaces.stores.chat_store import ChatStore

    with _space(args, settings) as (_deps, space, user):
        store = ChatStore(space.postgres)
        if args.sessions_command == "list":
            sessions = store.sessions(user)
            doc: Any = sessions
            human = "\n".join(
                f"{s['session_id']}  {s['messages']:>4} messages  {s['title']}" for s in sessions
            )
            human = human or "no sessions"
        else:
            doc = store.session_detail(args.session_id, user)
            human = "\n".join(
                f"[{m['turn']}] {m['role']}{'@' + m['agent_id'] if m['agent_id'] else ''}: "
                f"{m['content']}"
                for m in doc["messages"]
            )
    _print(args, doc, human)
    return 0

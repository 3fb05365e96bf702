"""``spaces memory ...``, ``spaces recall`` and ``spaces reindex`` from the shell.

Memory management for people and for agents that keep context in a space:
add, search, list, delete, stats, export and import (JSON lines of
``{"text", "metadata"?}``, bulk-loaded with COPY), prune by date, and the
one-off migration of spaces made on qdrant-client's local folders. Who may
do which is ``app/operations/memory.py``'s rule, as for REST.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from app.cli.output import Handler, acting, emit
from app.errors import InvalidInput
from app.operations import memory as ops
from app.settings import Settings
from app.spaces.space_manager import SpaceManager


def add_commands(sub: Any) -> None:
    """Register ``spaces memory``, ``spaces recall`` and ``spaces reindex``."""
    m = sub.add_parser("memory", help="a space's memories: add, search, list, import, ...")
    msub = m.add_subparsers(dest="memory_command", required=True, parser_class=type(m))

    def command(name: str, text: str, *args: str, space: bool = True) -> argparse.ArgumentParser:
        p = msub.add_parser(name, help=text)
        if space:
            p.add_argument("space_id")
        for arg in args:
            p.add_argument(arg)
        p.add_argument("--json", action="store_true")
        return p

    a = command("add", "store one memory", "text")
    a.add_argument("--metadata", default=None, help="a JSON object")
    a.add_argument("--key", default=None, help="idempotency key: adding it again stores nothing")
    command("search", "memories nearest to a query", "query").add_argument(
        "--k", type=int, default=5
    )
    ls = command("list", "memories, oldest first")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--offset", type=int, default=0)
    command("delete", "delete one memory by id", "memory_id")
    command("stats", "count, size on disk and embedder")
    e = command("export", "write every memory as JSON lines (with ids)")
    e.add_argument("--out", default="-", help="file to write (default: stdout)")
    command("import", "bulk-load JSON lines of {text, metadata?}", "file")
    command("prune", "delete memories stored before a date").add_argument(
        "--before", required=True, help="YYYY-MM-DD or an ISO date-time (UTC if no zone)"
    )
    command("migrate", "move memories of old local-Qdrant spaces into pgvector", space=False)

    r = sub.add_parser("recall", help="hybrid recall over a space, every hit cited")
    r.add_argument("space_id")
    r.add_argument("query")
    r.add_argument("--k", type=int, default=5)
    r.add_argument("--sources", default="memory,vault,documents,graph")
    r.add_argument("--mode", default="hybrid", choices=["hybrid", "vector", "text"])
    r.add_argument("--json", action="store_true")

    x = sub.add_parser("reindex", help="bring the space's vault index up to date")
    x.add_argument("space_id")
    x.add_argument("--json", action="store_true")


def _hits(args: argparse.Namespace, hits: list[Any]) -> int:
    doc = [
        {"id": h.id, "text": h.text, "metadata": h.metadata, "score": h.score,
         "created_at": h.created_at}
        for h in hits
    ]  # fmt: skip
    human = "\n".join(f"{h.id}  {h.text[:120]!r}" for h in hits)
    return emit(args, doc, human or "no memories")


def _add(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    memory_id = ops.add_memory(m, args.space_id, actor, args.text, args.metadata, key=args.key)
    return emit(args, {"id": memory_id}, f"added memory {memory_id}")


def _search(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    return _hits(args, ops.search_memory(m, args.space_id, actor, args.query, args.k))


def _list(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    found = ops.list_memory(m, args.space_id, actor, limit=args.limit, offset=args.offset)
    return _hits(args, found)


def _delete(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    ops.delete_memory(m, args.space_id, actor, args.memory_id)
    return emit(args, {"deleted": args.memory_id}, f"deleted memory {args.memory_id}")


def _stats(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    stats = ops.memory_stats(m, args.space_id, actor)
    return emit(args, stats, "\n".join(f"{k}: {v}" for k, v in stats.items()))


def _import(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    lines, added = ops.import_memory(m, args.space_id, actor, args.file)
    doc = {"lines": lines, "added": added, "skipped": lines - added}
    return emit(args, doc, f"imported {added} of {lines} memories")


def _prune(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    pruned = ops.prune_memory(m, args.space_id, actor, args.before)
    return emit(args, {"deleted": pruned}, f"deleted {pruned} memories")


def _export(args: argparse.Namespace, m: SpaceManager, actor: str) -> int:
    def open_out() -> Any:
        if args.out == "-":
            return contextlib.nullcontext(sys.stdout)
        try:
            return Path(args.out).open("w", encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write {args.out[:200]!r}: {exc.strerror}") from None

    count = ops.export_memory(m, args.space_id, actor, open_out)
    if args.out == "-":
        return 0  # stdout held the memories themselves
    return emit(args, {"exported": count, "file": args.out}, f"exported {count} memories")


_MEMORY = {
    "add": _add, "search": _search, "list": _list, "delete": _delete, "stats": _stats,
    "import": _import, "prune": _prune, "export": _export,
}  # fmt: skip


def memory(args: argparse.Namespace, settings: Settings) -> int:
    """One ``spaces memory`` subcommand, as ``--user`` (default: the space's owner)."""
    with SpaceManager(settings) as manager:
        if args.memory_command == "migrate":
            moved = ops.migrate_legacy(manager)
            human = "\n".join(f"{s}: {n} memories" for s, n in moved.items())
            return emit(args, moved, human or "nothing to migrate")
        return _MEMORY[args.memory_command](args, manager, acting(manager, args))


def recall(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces recall``: hybrid recall over the space, every hit cited."""
    with SpaceManager(settings) as manager:
        hits = ops.recall(
            manager, args.space_id, acting(manager, args), args.query,
            k=args.k, sources=args.sources, mode=args.mode,
        )  # fmt: skip
    doc = [
        {"source": h.source, "score": h.score, "citation": h.citation, "text": h.text} for h in hits
    ]
    human = "\n".join(
        f"{n}. [{h.citation['label']}] {h.text[:200]!r}" for n, h in enumerate(hits, 1)
    )
    return emit(args, doc, human or "nothing found")


def reindex(args: argparse.Namespace, settings: Settings) -> int:
    """``spaces reindex``: bring the vault index up to date."""
    with SpaceManager(settings) as manager:
        report = ops.reindex(manager, args.space_id, acting(manager, args))
    human = (
        f"{report.scanned} notes: {report.changed} re-indexed ({report.chunks} chunks), "
        f"{report.removed} removed"
    )
    return emit(args, vars(report), human)


COMMANDS: dict[str, Handler] = {"memory": memory, "recall": recall, "reindex": reindex}

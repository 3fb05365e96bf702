"""``spaces memory ...``, ``spaces recall`` and ``spaces reindex`` from the shell.

Memory management for people and for agents that keep context in a space:
add, search, list, delete, stats, export and import (JSON lines of
``{"text", "metadata"?}``, bulk-loaded with COPY), prune by date, and the
one-off migration of spaces made on qdrant-client's local folders. An import
file is checked whole before anything is written: a bad line changes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.errors import InvalidInput
from app.settings import Settings

COMMANDS = ("memory", "recall", "reindex")
IMPORT_MAX_BYTES = 2_000_000_000


def add_memory_commands(sub: Any) -> None:
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


def _date(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--before must be a date like 2026-01-31; got {text[:40]!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _metadata(raw: object, where: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise InvalidInput(f"{where}: metadata is not JSON") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: metadata must be a JSON object")
    return raw


def read_import(path: Path) -> list[Any]:
    """Parse and check every line of an import file; return ``MemoryRow``s."""
    from app.spaces.stores.memory_store import MemoryRow, check_text

    if not path.is_file():
        raise InvalidInput(f"no file {str(path)[:200]!r}")
    if path.stat().st_size > IMPORT_MAX_BYTES:
        raise InvalidInput(f"{path.name} is larger than {IMPORT_MAX_BYTES:,} bytes")
    rows = []
    with path.open(encoding="utf-8", errors="strict") as lines:
        try:
            for n, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                where = f"{path.name} line {n}"
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    raise InvalidInput(f"{where}: not JSON") from None
                if not isinstance(item, dict) or "text" not in item:
                    raise InvalidInput(f'{where}: expected an object with "text"')
                try:
                    check_text(item["text"])
                    memory_id = str(uuid.UUID(str(item.get("id") or uuid.uuid4())))
                    created = item.get("created_at")
                    created_at = _date(created) if isinstance(created, str) else None
                except (InvalidInput, ValueError) as exc:
                    raise InvalidInput(f"{where}: {exc}") from None
                rows.append(
                    MemoryRow(memory_id, item["text"], _metadata(item.get("metadata"), where),
                              created_at)
                )  # fmt: skip
        except UnicodeDecodeError:
            raise InvalidInput(f"{path.name} is not UTF-8 text") from None
    return rows


def _hit_json(hit: Any) -> dict[str, Any]:
    return {
        "id": hit.id,
        "text": hit.text,
        "metadata": hit.metadata,
        "score": hit.score,
        "created_at": hit.created_at,
    }


def memory_command(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out one ``memory``/``recall``/``reindex`` command; return the exit code."""
    from app.spaces.legacy.memory_migrate import migrate_legacy_memory
    from app.spaces.space_manager import SpaceManager

    with SpaceManager(settings) as manager:
        if args.command == "recall":
            space = manager.open_space(args.space_id)
            space.reindex_changed()
            hits = space.recall(args.query, args.k, args.sources, args.mode)
            doc: Any = [
                {"source": h.source, "score": h.score, "citation": h.citation, "text": h.text}
                for h in hits
            ]
            human = "\n".join(
                f"{n}. [{h.citation['label']}] {h.text[:200]!r}" for n, h in enumerate(hits, 1)
            )
            return _out(args, doc, human or "nothing found")
        if args.command == "reindex":
            report = manager.open_space(args.space_id).reindex_changed()
            doc = vars(report)
            human = (
                f"{report.scanned} notes: {report.changed} re-indexed ({report.chunks} chunks), "
                f"{report.removed} removed"
            )
            return _out(args, doc, human)
        action = args.memory_command
        if action == "migrate":
            moved = migrate_legacy_memory(manager.backends)
            human = "\n".join(f"{s}: {n} memories" for s, n in moved.items())
            return _out(args, moved, human or "nothing to migrate")
        write = action in ("add", "delete", "import", "prune")
        rows = read_import(Path(args.file)) if action == "import" else None
        with manager.open_space(args.space_id, write=write).memory() as memory:
            memory.ensure_supports(action)
            return _memory_action(args, memory, rows)


def _memory_action(args: argparse.Namespace, memory: Any, rows: list[Any] | None) -> int:
    action = args.memory_command
    if action == "add":
        meta = _metadata(args.metadata, "--metadata")
        memory_id = memory.add(args.text, meta, key=args.key)
        return _out(args, {"id": memory_id}, f"added memory {memory_id}")
    if action in ("search", "list"):
        if action == "search":
            hits = memory.search(args.query, limit=args.k)
        else:
            hits = memory.all(limit=args.limit, offset=args.offset)
        human = "\n".join(f"{h.id}  {h.text[:120]!r}" for h in hits)
        return _out(args, [_hit_json(h) for h in hits], human or "no memories")
    if action == "delete":
        if not memory.delete(args.memory_id):
            raise InvalidInput(f"no memory {args.memory_id!r} in space {memory.space_id!r}")
        return _out(args, {"deleted": args.memory_id}, f"deleted memory {args.memory_id}")
    if action == "stats":
        stats = memory.stats()
        human = "\n".join(f"{k}: {v}" for k, v in stats.items())
        return _out(args, stats, human)
    if action == "import":
        added = memory.bulk_load(rows)
        doc = {"lines": len(rows), "added": added, "skipped": len(rows) - added}
        return _out(args, doc, f"imported {added} of {len(rows)} memories")
    if action == "prune":
        pruned = memory.prune(_date(args.before))
        return _out(args, {"deleted": pruned}, f"deleted {pruned} memories")
    return _export(args, memory)


def _export(args: argparse.Namespace, memory: Any) -> int:
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if args.out != "-":
            out = stack.enter_context(Path(args.out).open("w", encoding="utf-8"))
        count = 0
        for hit in memory.iter_all():
            line = {"id": hit.id, "text": hit.text, "metadata": hit.metadata}
            out.write(json.dumps({**line, "created_at": hit.created_at}) + "\n")
            count += 1
    if args.out != "-":
        _out(args, {"exported": count, "file": args.out}, f"exported {count} memories")
    return 0


def _out(args: argparse.Namespace, doc: Any, human: str) -> int:
    print(json.dumps(doc, indent=2, default=str) if args.json else human)
    return 0

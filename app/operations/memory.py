"""A space's memories, recall and vault index: any member reads, operators and admins write.

Reading (list, search, stats, recall, reindex) needs ``Action.READ``; the
bulk copy (export) is ``Action.EXPORT``; adding, deleting, importing and
pruning are curating the space, ``Action.MANAGE_OBJECTS``, each audited
(``memory.add``, ``memory.delete``, ``memory.import`` with the file as the
target, ``memory.prune``, ``memory.export``). An import file is checked
whole before anything is written: a bad line changes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from app.errors import InvalidInput
from app.spaces.access.members import audited
from app.spaces.access.roles import Action, require
from app.spaces.legacy.memory_migrate import migrate_legacy_memory
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.memory_store import MemoryHit, MemoryRow, MemoryStore, check_text

IMPORT_MAX_BYTES = 2_000_000_000
# operation -> (the action it needs, its audit event or None for reads)
RULES: dict[str, tuple[Action, str | None]] = {
    "list": (Action.READ, None),
    "search": (Action.READ, None),
    "stats": (Action.READ, None),
    "export": (Action.EXPORT, "memory.export"),
    "add": (Action.MANAGE_OBJECTS, "memory.add"),
    "delete": (Action.MANAGE_OBJECTS, "memory.delete"),
    "import": (Action.MANAGE_OBJECTS, "memory.import"),
    "prune": (Action.MANAGE_OBJECTS, "memory.prune"),
}


@contextmanager
def _memory(
    manager: SpaceManager, space_id: str, actor: str, operation: str, target: str = ""
) -> Iterator[MemoryStore]:
    """The space's memory once ``actor`` may do ``operation``; a write is audited."""
    action, event = RULES[operation]
    guard: AbstractContextManager[Any] = (
        audited(manager, space_id, actor, action, event, target=target or space_id)
        if event
        else nullcontext(require(manager, space_id, actor, action))
    )
    with guard:
        write = action is Action.MANAGE_OBJECTS
        with manager.open_space(space_id, write=write).memory() as memory:
            memory.ensure_supports(operation)
            yield memory


def parse_date(text: str, name: str = "--before") -> datetime:
    """A date or date-time (UTC when it has no zone), or one line naming ``name``."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-01-31; got {text[:40]!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_metadata(raw: object, where: str) -> dict[str, Any] | None:
    """Metadata given as a JSON object (or its text), or one line saying what is wrong."""
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


def read_import(path: Path) -> list[MemoryRow]:
    """Parse and check every line of an import file (JSON lines of ``{text, metadata?}``)."""
    if not path.is_file():
        raise InvalidInput(f"no file {str(path)[:200]!r}")
    if path.stat().st_size > IMPORT_MAX_BYTES:
        raise InvalidInput(f"{path.name} is larger than {IMPORT_MAX_BYTES:,} bytes")
    rows = []
    with path.open(encoding="utf-8", errors="strict") as lines:
        try:
            for n, line in enumerate(lines, start=1):
                if line.strip():
                    rows.append(_import_row(line, f"{path.name} line {n}"))
        except UnicodeDecodeError:
            raise InvalidInput(f"{path.name} is not UTF-8 text") from None
    return rows


def _import_row(line: str, where: str) -> MemoryRow:
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
        created_at = parse_date(created, "created_at") if isinstance(created, str) else None
    except (InvalidInput, ValueError) as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    metadata = parse_metadata(item.get("metadata"), where)
    return MemoryRow(memory_id, item["text"], metadata, created_at)


def add_memory(
    manager: SpaceManager, space_id: str, actor: str, text: str,
    metadata: object = None, *, key: str | None = None,
) -> str:  # fmt: skip
    """Store one memory (once per idempotency ``key``); its id."""
    with _memory(manager, space_id, actor, "add") as memory:
        return memory.add(text, parse_metadata(metadata, "--metadata"), key=key)


def search_memory(
    manager: SpaceManager, space_id: str, actor: str, query: str, k: int = 5
) -> list[MemoryHit]:
    """The memories nearest to ``query``, best first."""
    with _memory(manager, space_id, actor, "search") as memory:
        return memory.search(query, limit=k)


def list_memory(
    manager: SpaceManager, space_id: str, actor: str, *, limit: int = 100, offset: int = 0
) -> list[MemoryHit]:
    """Memories, oldest first."""
    with _memory(manager, space_id, actor, "list") as memory:
        return memory.all(limit=limit, offset=offset)


def delete_memory(manager: SpaceManager, space_id: str, actor: str, memory_id: str) -> None:
    """Delete one memory; an id the space does not hold is one line, and nothing changes."""
    with _memory(manager, space_id, actor, "delete") as memory:
        if not memory.delete(memory_id):
            raise InvalidInput(f"no memory {memory_id!r} in space {memory.space_id!r}")


def memory_stats(manager: SpaceManager, space_id: str, actor: str) -> dict[str, Any]:
    """Count, size on disk and embedder."""
    with _memory(manager, space_id, actor, "stats") as memory:
        return memory.stats()


def export_memory(
    manager: SpaceManager, space_id: str, actor: str,
    open_out: Callable[[], AbstractContextManager[IO[str]]],
) -> int:  # fmt: skip
    """Write every memory (with its id) as JSON lines to ``open_out()``; how many.

    The output is opened only once the export is allowed, so a refused
    export creates no file.
    """
    count = 0
    with _memory(manager, space_id, actor, "export") as memory, open_out() as out:
        for hit in memory.iter_all():
            line = {"id": hit.id, "text": hit.text, "metadata": hit.metadata}
            out.write(json.dumps({**line, "created_at": hit.created_at}) + "\n")
            count += 1
    return count


def import_memory(
    manager: SpaceManager, space_id: str, actor: str, path: str | Path
) -> tuple[int, int]:
    """Bulk-load an import file, all checked first; (lines, memories added)."""
    with _memory(manager, space_id, actor, "import", target=str(path)) as memory:
        rows = read_import(Path(path))
        return len(rows), memory.bulk_load(rows)


def prune_memory(manager: SpaceManager, space_id: str, actor: str, before: str) -> int:
    """Delete the memories stored before ``before`` (a date); how many."""
    with _memory(manager, space_id, actor, "prune") as memory:
        return memory.prune(parse_date(before))


def recall(
    manager: SpaceManager, space_id: str, actor: str, query: str, *,
    k: int = 5, sources: str = "memory,vault,documents,graph", mode: str = "hybrid",
) -> list[Any]:  # fmt: skip
    """Hybrid recall over the space, every hit cited (the vault index is refreshed first)."""
    require(manager, space_id, actor, Action.READ)
    space = manager.open_space(space_id)
    space.reindex_changed()
    return space.recall(query, k, sources, mode)


def reindex(manager: SpaceManager, space_id: str, actor: str) -> Any:
    """Bring the space's vault index up to date; what changed."""
    require(manager, space_id, actor, Action.READ)
    return manager.open_space(space_id).reindex_changed()


def migrate_legacy(manager: SpaceManager) -> dict[str, int]:
    """Move memories of spaces made on qdrant-client's local folders into pgvector (local)."""
    return migrate_legacy_memory(manager.backends)

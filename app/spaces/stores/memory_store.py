"""What a space's memory is, whichever store holds it: the ``MemoryStore`` protocol.

Two stores implement it: ``PgMemory`` (``memory.py``, a pgvector table in
the space's schema, the default) and ``QdrantMemory`` (``memory_qdrant.py``,
Mem0 on a Qdrant server, with ``QDRANT_URL``). Callers (recall, the research
graph's memory source, the CLI) work through the protocol and never ask
which store they hold: what differs is said by the store itself
(``rankings`` has no full-text ranking on Qdrant, ``ensure_supports``
refuses what Qdrant cannot do). The records, limits and input checks both
stores share are here too, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.errors import InvalidInput

TEXT_MAX = 20_000
QUERY_MAX = 2_000
SEARCH_MAX = 1_000
LIST_MAX = 1_000_000


@dataclass(frozen=True)
class MemoryRow:
    """One memory to bulk-load (an import line)."""

    id: str
    text: str
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class MemoryHit:
    """One memory returned by a search or listing."""

    id: str
    text: str
    score: float | None
    metadata: dict[str, Any]
    created_at: str | None = None


@dataclass(frozen=True)
class Rankings:
    """A query's memories ranked by vector similarity and by full text, best first.

    ``embedded`` is the query's vector in pgvector's text form when the store
    made one (so the vault index can search with the same vector), else None.
    """

    vector: list[MemoryHit] = field(default_factory=list)
    text: list[MemoryHit] = field(default_factory=list)
    embedded: str | None = None


class MemoryStore(Protocol):
    """The memories of one space: add, search, list, delete, and ranked retrieval."""

    space_id: str
    writable: bool

    def add(
        self,
        text: str,
        metadata: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        agent_id: str | None = None,
    ) -> str:
        """Store one memory (once per ``key``), in ``agent_id``'s scope if given; its id."""
        ...

    def delete(self, memory_id: str) -> bool:
        """Remove one memory; whether it existed."""
        ...

    def search(self, query: str, limit: int = 5, *, agent_id: str | None = None) -> list[MemoryHit]:
        """The memories most similar to ``query``, best first (space-wide unless ``agent_id``)."""
        ...

    def all(self, limit: int = 100, *, agent_id: str | None = None) -> list[MemoryHit]:
        """Memories of the space, up to ``limit`` (only ``agent_id``'s scope, if given)."""
        ...

    def rankings(
        self, query: str, depth: int, kind: str | None = None, *, vector: bool, text: bool
    ) -> Rankings:
        """Up to ``depth`` space-wide memories per ranking asked for (``kind``: see ``check_kind``).

        A ranking the store cannot make comes back empty.
        """
        ...

    def ensure_supports(self, operation: str) -> None:
        """Refuse, with one line, an operation this store does not offer.

        Operations are the ``spaces memory`` actions: add, search, delete,
        list, stats, export, import, prune.
        """
        ...


KINDS = ("memory", "document")


def check_kind(kind: str | None) -> str | None:
    """``document`` chunks only, plain ``memory`` only, or everything (None)."""
    if kind is not None and kind not in KINDS:
        raise InvalidInput(f"unknown memory kind {kind!r}")
    return kind


def check_text(text: object) -> str:
    """The memory text, or InvalidInput naming what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("memory text must be non-empty text")
    if len(text) > TEXT_MAX:
        raise InvalidInput(f"memory text is too long: {len(text)} characters, at most {TEXT_MAX}")
    return text


def check_query(query: object) -> str:
    """The search query, or InvalidInput naming what is wrong with it."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("memory query must be non-empty text")
    if len(query) > QUERY_MAX:
        raise InvalidInput(
            f"memory query is too long: {len(query)} characters, at most {QUERY_MAX}"
        )
    return query


def check_key(key: object) -> str:
    """An idempotency key of 1 to 200 characters."""
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise InvalidInput("memory key must be 1 to 200 characters")
    return key


def clamp(limit: object, top: int) -> int:
    """``limit`` as an int in 1..top (bad values are an input error, not a crash)."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidInput("limit must be a whole number")
    return max(1, min(limit, top))

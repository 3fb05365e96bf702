"""Each agent's own context (the seed's agent-context-store), in the space's memory.

An agent's interactions are memories of the space under the agent's own
scope (Mem0's ``agent_id``, the agent's name, so the context outlives
versions), with ``task_id``, ``timestamp``, ``success`` and ``type``. When an
agent works, its prompt gets retrieval from its own scope plus the space's
recall, which leaves out every agent's scope: one agent's context never
appears in another agent's retrieval. Memory belongs to the space, so it is
as isolated as the space is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from app.errors import InvalidInput
from app.spaces.stores.handle import SpaceHandle
from app.spaces.stores.memory_store import MemoryHit

CONTEXT_MAX = 10_000  # what export, stats, clear and prune look at, at most
TEXT_MAX = 4_000


@dataclass(frozen=True)
class Retrieved:
    """What an agent's prompt gets: its own interactions and the space's recall."""

    own: list[MemoryHit]
    space: list[MemoryHit]


@dataclass(frozen=True)
class Interaction:
    """One interaction of an agent, to remember in its scope."""

    agent: str
    text: str
    task_id: str
    success: bool
    kind: str
    key: str | None = None


def remember_all(space: SpaceHandle, items: list[Interaction]) -> list[str]:
    """Store interactions of any agents of the space with one opening of its memory."""
    now = datetime.now(UTC).isoformat()
    with space.memory() as memory:
        return [
            memory.add(
                item.text[:TEXT_MAX],
                {
                    "task_id": item.task_id,
                    "timestamp": now,
                    "success": item.success,
                    "type": item.kind,
                },
                key=item.key,
                agent_id=item.agent,
            )
            for item in items
        ]


def retrieve_for(
    space: SpaceHandle, asks: list[tuple[str, str]], limit: int = 4
) -> list[Retrieved]:
    """For each ``(agent, query)``: the agent's own closest interactions and the space's recall.

    One opening of the space's memory serves every ask (a wave's tasks share it).
    """
    found: list[Retrieved] = []
    with space.memory() as memory:
        for agent, query in asks:
            own = memory.search(query[:2_000], limit, agent_id=agent)
            shared = memory.search(query[:2_000], limit * 3)
            found.append(
                Retrieved(own, [h for h in shared if "agent_id" not in h.metadata][:limit])
            )
    return found


class AgentContext:
    """The context of agent ``name`` in ``space``."""

    def __init__(self, space: SpaceHandle, name: str):
        self.space = space
        self.name = name

    def remember(
        self, text: str, *, task_id: str, success: bool, kind: str, key: str | None = None
    ) -> str:
        """Store one interaction of the agent; ``key`` makes a re-run store nothing twice."""
        item = Interaction(self.name, text, task_id, success, kind, key)
        return remember_all(self.space, [item])[0]

    def retrieve(self, query: str, limit: int = 4) -> Retrieved:
        """The agent's own closest interactions, and the space's closest shared memories."""
        return retrieve_for(self.space, [(self.name, query)], limit)[0]

    def _all(self) -> list[MemoryHit]:
        with self.space.memory() as memory:
            return memory.all(CONTEXT_MAX, agent_id=self.name)

    def export(self) -> list[dict[str, Any]]:
        """Every interaction, oldest first, as JSON-ready rows (for JSON lines)."""
        rows = [
            {"id": h.id, "agent": self.name, "text": h.text, **_fields(h.metadata)}
            for h in self._all()
        ]
        return sorted(rows, key=lambda r: str(r.get("timestamp")))

    def stats(self) -> dict[str, Any]:
        """How many interactions, how many succeeded, by type, first and last."""
        rows = self.export()
        kinds: dict[str, int] = {}
        for row in rows:
            kinds[str(row.get("type"))] = kinds.get(str(row.get("type")), 0) + 1
        return {
            "agent": self.name,
            "interactions": len(rows),
            "succeeded": sum(1 for r in rows if r.get("success") is True),
            "by_type": kinds,
            "first": rows[0]["timestamp"] if rows else None,
            "last": rows[-1]["timestamp"] if rows else None,
        }

    def _delete(self, ids: list[str]) -> int:
        with self.space.memory() as memory:
            for memory_id in ids:
                memory.delete(memory_id)
        return len(ids)

    def clear(self) -> int:
        """Forget every interaction of the agent; return how many."""
        return self._delete([h.id for h in self._all()])

    def prune(self, before: object) -> int:
        """Forget the interactions older than ``before`` (``YYYY-MM-DD``, UTC)."""
        if not isinstance(before, str):
            raise InvalidInput("prune needs --before YYYY-MM-DD")
        try:
            cut = datetime.combine(date.fromisoformat(before), datetime.min.time(), UTC)
        except ValueError:
            raise InvalidInput(f"invalid date {before[:40]!r}: use YYYY-MM-DD") from None
        old = [
            h.id
            for h in self._all()
            if datetime.fromisoformat(str(h.metadata.get("timestamp"))) < cut
        ]
        return self._delete(old)


def _fields(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta.get(k) for k in ("task_id", "timestamp", "success", "type")}

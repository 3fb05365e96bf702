"""Space memory on a Qdrant server (``QDRANT_URL``): Mem0 on the space's collection.

The scale-out path. Each space has its own collection (``mem0_<id>``); Mem0
is configured per space with our embedder and chat model; its history
database lives with the space too. Without ``QDRANT_URL`` memory is pgvector
(``app.spaces.stores.memory``); qdrant-client's local mode is only read, to migrate
spaces made before (``app.spaces.legacy.memory_migrate``). Both are a ``MemoryStore``
(``memory_store``).

Facts are stored as given (Mem0 ``infer=False``): extraction of facts from
text is the caller's job, which keeps writes deterministic and idempotent.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.errors import InvalidInput, SpaceArchived, StoreUnavailable
from app.spaces.infra.backends import Backends
from app.spaces.model.space_model import SpaceConfig
from app.spaces.stores.memory_store import (
    LIST_MAX,
    SEARCH_MAX,
    MemoryHit,
    Rankings,
    check_key,
    check_kind,
    check_query,
    check_text,
    clamp,
)

# What ``spaces memory`` can do on a Qdrant server: Mem0 hands out no vectors
# (no export, stats or bulk load) and lists without an offset.
OPERATIONS = frozenset({"add", "search", "delete"})


def _mem0_class(home: Path) -> type:
    # Mem0 reads these at import time: no telemetry (nothing outside is reachable)
    # and its own config folder under SPACES_HOME instead of ~/.mem0.
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    os.environ.setdefault("MEM0_DIR", str(home / "mem0"))
    from mem0 import Memory

    # Mem0 logs at WARNING that optional spaCy/fastembed extras are missing; they
    # would download models at run time, so their absence is expected here.
    for name in ("mem0", "mem0.vector_stores.qdrant", "mem0.utils.spacy_models"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return Memory


def _qdrant_errors() -> tuple[type[BaseException], ...]:
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    return (ResponseHandlingException, UnexpectedResponse, ConnectionError, OSError)


class QdrantMemory:
    """Add and search the memories of one space (Mem0 on a Qdrant server): a ``MemoryStore``."""

    def __init__(self, memory: Any, space_id: str, *, writable: bool):
        self._memory = memory
        self.space_id = space_id
        self.writable = writable

    def add(
        self,
        text: str,
        metadata: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        agent_id: str | None = None,
    ) -> str:
        """Store ``text`` as one memory; return its id.

        With ``key``, adding the same key again returns the first memory's id
        and stores nothing, so a run resumed after a crash does not duplicate
        its memories. With ``agent_id``, in that agent's scope (Mem0's own).
        """
        if not self.writable:
            raise SpaceArchived(f"space {self.space_id!r} is archived: its memory is read-only")
        check_text(text)
        meta = {**(metadata or {}), "space_id": self.space_id}
        if key is not None:
            meta["idempotency_key"] = check_key(key)
            try:
                found = self._memory.get_all(
                    filters={**self._scope(agent_id), "idempotency_key": key}, top_k=1
                )
            except _qdrant_errors() as exc:
                raise StoreUnavailable("memory", str(exc)) from exc
            if found["results"]:
                return found["results"][0]["id"]
        try:
            result = self._memory.add(
                text, user_id=self.space_id, agent_id=agent_id, metadata=meta, infer=False
            )
        except _qdrant_errors() as exc:
            raise StoreUnavailable("memory", str(exc)) from exc
        return result["results"][0]["id"]

    def delete(self, memory_id: str) -> bool:
        """Remove one memory; return whether it existed (as ``PgMemory.delete``)."""
        if not self.writable:
            raise SpaceArchived(f"space {self.space_id!r} is archived: its memory is read-only")
        try:
            if self._memory.get(memory_id) is None:
                return False
            self._memory.delete(memory_id)
        except _qdrant_errors() as exc:
            raise StoreUnavailable("memory", str(exc)) from exc
        return True

    def _scope(self, agent_id: str | None) -> dict[str, str]:
        """Mem0 filters for the space, narrowed to one agent's scope if given."""
        return {"user_id": self.space_id, **({"agent_id": agent_id} if agent_id else {})}

    def search(self, query: str, limit: int = 5, *, agent_id: str | None = None) -> list[MemoryHit]:
        """The memories most similar to ``query``, best first; no agent's context unless named."""
        check_query(query)
        try:
            found = self._memory.search(
                query, filters=self._scope(agent_id), top_k=clamp(limit, SEARCH_MAX)
            )
        except _qdrant_errors() as exc:
            raise StoreUnavailable("memory", str(exc)) from exc
        hits = [self._hit(r) for r in found["results"]]
        return hits if agent_id else [h for h in hits if "agent_id" not in h.metadata]

    def all(self, limit: int = 100, *, agent_id: str | None = None) -> list[MemoryHit]:
        """Every memory of the space (only ``agent_id``'s scope, if given), up to ``limit``."""
        try:
            found = self._memory.get_all(
                filters=self._scope(agent_id), top_k=clamp(limit, LIST_MAX)
            )
        except _qdrant_errors() as exc:
            raise StoreUnavailable("memory", str(exc)) from exc
        return [self._hit(r) for r in found["results"]]

    def rankings(
        self, query: str, depth: int, kind: str | None = None, *, vector: bool, text: bool
    ) -> Rankings:
        """Mem0's vector ranking only (no full text on Qdrant); ``kind`` as ``PgMemory``'s."""
        check_kind(kind)
        if not vector:
            return Rankings()
        hits = self.search(query, limit=depth)
        if kind is not None:
            hits = [
                h for h in hits if (h.metadata.get("type") == "document") == (kind == "document")
            ]
        return Rankings(vector=hits)

    def ensure_supports(self, operation: str) -> None:
        """Refuse what Mem0 on Qdrant cannot do (``OPERATIONS``), naming the store needed."""
        if operation not in OPERATIONS:
            raise InvalidInput(f"memory {operation} needs the pgvector store (QDRANT_URL is set)")

    @staticmethod
    def _hit(row: dict[str, Any]) -> MemoryHit:
        meta = dict(row.get("metadata") or {})
        if row.get("agent_id"):
            meta["agent_id"] = row["agent_id"]  # Mem0 lifts it out of the metadata
        return MemoryHit(row["id"], row["memory"], row.get("score"), meta)


def _history_path(backends: Backends, space_id: str) -> Path:
    return backends.settings.home / "mem0" / "history" / space_id / "history.db"


@contextmanager
def open_qdrant_memory(
    backends: Backends, config: SpaceConfig, *, writable: bool
) -> Iterator[QdrantMemory]:
    """Open Mem0 on the space's collection for the duration of the block.

    Creates the collection if missing (Mem0 creates it with the embedder's
    dimension, cosine distance).
    """
    from app.llm.resolve import resolve_chat_model  # langchain is slow to import; only here

    memory_cls = _mem0_class(backends.settings.home)
    embedder = backends.embedder()
    model_name = config.preferred_model or backends.settings.model
    history = _history_path(backends, config.space_id)
    history.parent.mkdir(parents=True, exist_ok=True)
    with backends.qdrant(config.space_id) as client:
        try:
            if client.collection_exists(config.mem0_collection_name):
                info = client.get_collection(config.mem0_collection_name)
                size = info.config.params.vectors.size
                if size != embedder.dims:
                    raise StoreUnavailable(
                        "memory",
                        f"collection {config.mem0_collection_name} holds {size}-dimension "
                        f"vectors but embeddings {embedder.name!r} make {embedder.dims}; "
                        "set SPACES_EMBEDDINGS to the embedder the space was created with",
                    )
            with warnings.catch_warnings():
                # Mem0 asks local Qdrant for payload indexes, which it warns are no-ops.
                warnings.simplefilter("ignore", UserWarning)
                memory = memory_cls.from_config(
                    {
                        "vector_store": {
                            "provider": "qdrant",
                            "config": {
                                "collection_name": config.mem0_collection_name,
                                "client": client,
                                "embedding_model_dims": embedder.dims,
                                "on_disk": True,
                            },
                        },
                        "embedder": {"provider": "langchain", "config": {"model": embedder.model}},
                        "llm": {
                            "provider": "langchain",
                            "config": {"model": resolve_chat_model(model_name, backends.settings)},
                        },
                        "history_db_path": str(history),
                    }
                )
        except _qdrant_errors() as exc:
            raise StoreUnavailable("memory", str(exc)) from exc
        with memory:  # closes Mem0's history database
            yield QdrantMemory(memory, config.space_id, writable=writable)


def drop_qdrant_memory(backends: Backends, config: SpaceConfig) -> None:
    """Delete the space's collection and history; used only to undo a failed creation."""
    with backends.qdrant(config.space_id) as client:
        client.delete_collection(config.mem0_collection_name)
    shutil.rmtree(_history_path(backends, config.space_id).parent, ignore_errors=True)

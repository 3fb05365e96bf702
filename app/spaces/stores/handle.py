"""``SpaceHandle``: one space opened for work, holding its store adapters.

``SpaceManager.open_space`` makes one; the stores that work on an open space
(agents, documents) take one, and reach a manager only through
``SpaceOpener``, so they never import the manager above them; recall reads
one through its own ``Recallable`` protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from app.spaces.infra.backends import Backends
from app.spaces.infra.embeddings import Embedder
from app.spaces.infra.postgres import SpacePostgres
from app.spaces.model.space_model import SpaceConfig
from app.spaces.stores.graph import SpaceGraph
from app.spaces.stores.memory import open_space_memory
from app.spaces.stores.memory_store import MemoryStore
from app.spaces.stores.recall import RecallHit, recall
from app.spaces.stores.vault import SpaceVault
from app.spaces.stores.vault_index import RefreshReport, VaultIndex


@dataclass
class SpaceHandle:
    """One space opened for work: its config and its four store adapters.

    ``writable`` is False for an archived space, and every adapter refuses writes.
    """

    config: SpaceConfig
    writable: bool
    postgres: SpacePostgres
    vault: SpaceVault
    _backends: Backends

    @property
    def graph(self) -> SpaceGraph:
        """The space's graph partition (starts the graph server on first use)."""
        return SpaceGraph(self._backends.graph(), self.config.space_id, writable=self.writable)

    @contextmanager
    def memory(self) -> Iterator[MemoryStore]:
        """The space's memory (pgvector table, or Mem0 on a Qdrant server) for the block."""
        with open_space_memory(self._backends, self.config, writable=self.writable) as memory:
            yield memory

    def embedder(self) -> Embedder:
        """The embedder of this process (the one the space's vectors were made with)."""
        return self._backends.embedder()

    @property
    def default_model(self) -> str:
        """The model a run here uses unless told: the preferred one, else ``SPACES_MODEL``."""
        return self.config.preferred_model or self._backends.settings.model

    @property
    def vault_index(self) -> VaultIndex:
        """The incremental search index of the space's vault."""
        return self.vault.index or VaultIndex(self._backends, self.config, self.vault.root)

    def reindex_changed(self) -> RefreshReport:
        """Re-index only the vault notes changed since last time: call at a run's start."""
        return self.vault_index.refresh()

    def recall(
        self,
        query: str,
        k: int = 5,
        sources: Iterable[str] | str | None = None,
        mode: str = "hybrid",
    ) -> list[RecallHit]:
        """Hybrid recall over memory, vault, documents and graph (``recall.py``)."""
        return recall(self, query, k, sources, mode)


class SpaceOpener(Protocol):
    """What opens spaces by id (a ``SpaceManager``), for stores that take one."""

    def open_space(self, space_id: str, *, write: bool = False) -> SpaceHandle:
        """Open a space's stores; with ``write=True`` an archived space is refused."""
        ...

"""One recall over a space: memories, vault notes, documents and the graph, each cited.

Three rankings are built:

- **vector**: cosine similarity of the query's embedding to memories,
  document chunks (stored as memories) and vault chunks; one embedder makes
  all of them, so their similarities are comparable and are merged by score;
- **text**: Postgres full text (``tsvector``, any word of the query, ranked
  by ``ts_rank`` normalised by length) over the same rows, merged by score;
- **graph**: entities of the space's graph whose names contain a word of the
  query, then their neighbours one relation away.

``mode="vector"`` or ``"text"`` returns that ranking alone (so the fusion
can be measured against each); ``"hybrid"`` fuses all three by reciprocal
rank fusion (score = sum of 1 / (60 + rank)), as seed
``spacebot-mvp-roadmap`` asks: vector + FTS + graph traversal + RRF.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from app.errors import InvalidInput
from app.spaces.stores.memory_store import MemoryHit, check_query
from app.text import words

if TYPE_CHECKING:
    from app.spaces.infra.postgres import SpacePostgres
    from app.spaces.stores.graph import SpaceGraph
    from app.spaces.stores.memory_store import MemoryStore
    from app.spaces.stores.vault_index import VaultIndex

SOURCES = ("memory", "vault", "documents", "graph")
MODES = ("hybrid", "vector", "text")
RRF_K = 60
K_MAX = 100
GRAPH_SEEDS = 3


class Recallable(Protocol):
    """What recall reads of an open space: a ``SpaceHandle`` (``handle.py``, which calls here)."""

    @property
    def postgres(self) -> SpacePostgres:
        """The space's schema (which document versions are open)."""
        ...

    @property
    def graph(self) -> SpaceGraph:
        """The space's graph partition."""
        ...

    @property
    def vault_index(self) -> VaultIndex:
        """The search index of the space's vault."""
        ...

    def memory(self) -> AbstractContextManager[MemoryStore]:
        """The space's memory for the block."""
        ...


@dataclass(frozen=True)
class RecallHit:
    """One result: where it comes from, its text, its score and its citation."""

    source: str  # memory | vault | documents | graph
    text: str
    score: float
    citation: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        """Identity of the cited thing (the same chunk found twice is one hit)."""
        c = self.citation
        return (c["kind"], c["ref"], c.get("chunk"))


def check_sources(sources: Iterable[str] | str | None) -> tuple[str, ...]:
    """Sources as a tuple; a comma-separated string is accepted (the CLI's form)."""
    if sources is None:
        return SOURCES
    items = sources.split(",") if isinstance(sources, str) else list(sources)
    chosen = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown or not chosen:
        raise InvalidInput(f"sources must be among {', '.join(SOURCES)}; got {sources!r}")
    return chosen


def _memory_hit(hit: MemoryHit) -> RecallHit:
    meta = hit.metadata
    if meta.get("type") == "document":
        name, version = meta.get("object_name", "?"), meta.get("version_id")
        citation = {
            "kind": "document",
            "ref": f"{name}#v{version}",
            "label": f"document {name} (version {version})",
            "document": name,
            "version_id": version,
            "chunk": meta.get("chunk"),
            "memory_id": hit.id,
        }
        return RecallHit("documents", hit.text, float(hit.score or 0.0), citation)
    citation = {"kind": "memory", "ref": hit.id, "label": f"memory {hit.id[:8]}"}
    return RecallHit("memory", hit.text, float(hit.score or 0.0), citation)


def _vault_hit(path: str, chunk: int, text: str, score: float) -> RecallHit:
    citation = {"kind": "vault", "ref": path, "label": path[:-3], "path": path, "chunk": chunk}
    return RecallHit("vault", text, score, citation)


def _is_open(hit: RecallHit, open_ids: set[int]) -> bool:
    return hit.source != "documents" or hit.citation.get("version_id") in open_ids


def _by_score(lists: list[list[RecallHit]], limit: int) -> list[RecallHit]:
    merged = sorted((h for hits in lists for h in hits), key=lambda h: -h.score)
    seen: set[tuple] = set()
    out = []
    for hit in merged:
        if hit.key not in seen:
            seen.add(hit.key)
            out.append(hit)
    return out[:limit]


def fuse[T](
    rankings: list[list[T]], key: Callable[[T], Hashable], limit: int
) -> list[tuple[T, float]]:
    """Reciprocal rank fusion: each ranking adds 1 / (RRF_K + rank) to an item's score."""
    scores: dict[Hashable, float] = {}
    first: dict[Hashable, T] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[key(item)] = scores.get(key(item), 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(key(item), item)
    order = sorted(scores, key=lambda k: -scores[k])[:limit]
    return [(first[k], scores[k]) for k in order]


def rrf(rankings: list[list[RecallHit]], limit: int) -> list[RecallHit]:
    """``fuse`` for recall hits; a hit's score becomes its fused score."""
    return [
        RecallHit(hit.source, hit.text, score, hit.citation)
        for hit, score in fuse(rankings, lambda h: h.key, limit)
    ]


def graph_ranking(space: Recallable, query: str, limit: int) -> list[RecallHit]:
    """Entities the query names (most query words first), then their neighbours."""
    terms = sorted(words(query), key=len, reverse=True)
    if not terms:
        return []
    graph = space.graph
    named = graph.search(terms, limit=limit)
    named.sort(key=lambda e: -sum(t in e["name"].lower() for t in terms))
    hits: list[RecallHit] = []
    for entity in named:
        facts = "; ".join(f"{a} {t} {b}" for a, t, b in entity["relations"][:20])
        text = f"{entity['name']} ({entity.get('kind') or 'entity'})" + (
            f": {facts}." if facts else "."
        )
        hits.append(RecallHit("graph", text, 1.0, _graph_citation(entity["name"])))
    seen = {h.citation["ref"] for h in hits}
    for entity in named[:GRAPH_SEEDS]:
        for near in graph.neighbours(entity["name"], hops=1, limit=limit):
            if near["name"] not in seen:
                seen.add(near["name"])
                text = (
                    f"{near['name']} ({near.get('kind') or 'entity'}), related to {entity['name']}."
                )
                hits.append(RecallHit("graph", text, 0.5, _graph_citation(near["name"])))
    return hits[:limit]


def vault_rankings(
    index: VaultIndex,
    query: str,
    depth: int,
    prefixes: list[str],
    mode: str = "hybrid",
    embedded: str | None = None,
    exclude_tags: tuple[str, ...] = (),
) -> tuple[list[RecallHit], list[RecallHit]]:
    """The vault's vector and text rankings for ``query`` (empty where ``mode`` excludes).

    Notes tagged with any of ``exclude_tags`` are left out of both.
    """
    vectors: list[RecallHit] = []
    texts: list[RecallHit] = []
    if mode in ("hybrid", "vector"):
        vector = embedded or index.embed_query(query)
        found = index.vector_search(vector, depth, prefixes, exclude_tags)
        vectors = [_vault_hit(c.path, c.chunk, c.text, c.score) for c in found]
    if mode in ("hybrid", "text"):
        found = index.text_search(query, depth, prefixes, exclude_tags)
        texts = [_vault_hit(c.path, c.chunk, c.text, c.score) for c in found]
    return vectors, texts


def _open_versions(space: Recallable) -> set[int]:
    """Ids of the versions that are open: the latest active version of each active object."""
    with space.postgres.connection() as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (o.id) v.id FROM objects o "
            "JOIN versions v ON v.object_id = o.id "
            "WHERE o.active AND v.status = 'active' "
            "ORDER BY o.id, v.ingested_at DESC, v.id DESC"
        ).fetchall()
    return {int(r[0]) for r in rows}


def _graph_citation(name: str) -> dict[str, Any]:
    return {"kind": "graph", "ref": name, "label": f"graph node {name}"}


def recall(
    space: Recallable,
    query: str,
    k: int = 5,
    sources: Iterable[str] | str | None = None,
    mode: str = "hybrid",
    *,
    prefixes: list[str] | None = None,
) -> list[RecallHit]:
    """The ``k`` best hits for ``query`` over ``sources`` (see the module docstring).

    ``prefixes`` limits vault hits to notes under those folders.
    """
    check_query(query)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise InvalidInput(f"k must be a whole number from 1 to {K_MAX}")
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    chosen = check_sources(sources)
    depth = max(20, 4 * k)
    vector_lists: list[list[RecallHit]] = []
    text_lists: list[list[RecallHit]] = []
    embedded: str | None = None
    want_vector, want_text = mode in ("hybrid", "vector"), mode in ("hybrid", "text")
    if "memory" in chosen or "documents" in chosen:
        kind = (
            None
            if {"memory", "documents"} <= set(chosen)
            else ("memory" if "memory" in chosen else "document")
        )
        with space.memory() as memory:  # on a Qdrant server: a vector ranking only
            found = memory.rankings(query, depth, kind, vector=want_vector, text=want_text)
        embedded = found.embedded
        vector_lists.append([_memory_hit(h) for h in found.vector])
        text_lists.append([_memory_hit(h) for h in found.text])
    if "vault" in chosen:
        if want_vector and embedded is None:
            embedded = space.vault_index.embed_query(query)
        vectors, texts = vault_rankings(
            space.vault_index, query, depth, prefixes or [], mode, embedded
        )
        vector_lists.append(vectors)
        text_lists.append(texts)
    if "documents" in chosen:
        # Chunks of closed versions stay in memory (they are history): not recalled.
        open_ids = _open_versions(space)
        vector_lists = [[h for h in hits if _is_open(h, open_ids)] for hits in vector_lists]
        text_lists = [[h for h in hits if _is_open(h, open_ids)] for hits in text_lists]
    if mode == "vector":
        return _by_score(vector_lists, k)
    if mode == "text":
        return _by_score(text_lists, k)
    rankings = [_by_score(vector_lists, depth), _by_score(text_lists, depth)]
    if "graph" in chosen:
        rankings.append(graph_ranking(space, query, depth))
    return rrf(rankings, k)

"""What the research sub-agents gather: candidate findings from one source, each cited.

Each function reads through a space-scoped adapter (or, for links, the
crawler), so it can only ever see the space it was given. Vault notes and
memories are ranked by the space's indexes (vector + full text, fused by
reciprocal rank: ``app.spaces.stores.recall``); other candidates by word overlap
with the query. The notes earlier runs wrote (tagged ``spaces/<phase>``) are
left out of the vault's candidates unless the query asks for earlier runs
or the specification names their tags: they restate the query and quote
other sources, so they would crowd out the notes a person wrote. The
sub-agent then asks the model which of them are relevant (see ``graph.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from app.errors import InvalidInput
from app.graphs.notes import is_run_folder
from app.graphs.research.spec import DataSource, GraphSource, UrlSource, VaultSource
from app.graphs.research.state import Finding
from app.graphs.tools.data import SUFFIXES, DataError, analyse, describe, load_table
from app.graphs.tools.web import crawl
from app.spaces.stores.graph import SpaceGraph
from app.spaces.stores.memory_store import MemoryStore
from app.spaces.stores.recall import fuse, rrf, vault_rankings
from app.spaces.stores.vault import GENERATED_TAGS, SpaceVault
from app.text import overlap, words

PASSAGE_MAX = 700
VAULT_NOTES_MAX = 2_000
# "What did the previous run find?": a word of each set asks for the notes runs wrote.
_EARLIER = frozenset({"earlier", "previous", "prior", "past", "last", "former", "generated"})
_RUN_NOTES = frozenset({"run", "research", "plan", "implementation", "note", "result"})
Visit = Callable[[str], None]


def _passages(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _error(agent: str, message: str) -> Finding:
    return {"agent": agent, "text": "", "citation": None, "score": 0.0, "error": message}


def _best_passage(query_words: set[str], text: str) -> tuple[str, int]:
    best, best_score = "", 0
    for passage in _passages(text):
        score = overlap(query_words, passage)
        if score > best_score and not passage.startswith("Related:"):
            best, best_score = passage, score
    return best, best_score


def _ranked(found: list[Finding], limit: int) -> list[Finding]:
    found.sort(key=lambda f: (-f["score"], f["citation"]["ref"]))  # type: ignore[index]
    return found[:limit]


def wants_run_notes(query: str, source: VaultSource) -> bool:
    """Whether the notes runs wrote belong among the sources.

    They do when the query asks for earlier runs ("what did the previous run
    find"), or the specification names their tags or a run's folder.
    """
    q = words(query)
    return (
        bool(q & _EARLIER and q & _RUN_NOTES)
        or bool(set(source.tags) & set(GENERATED_TAGS))
        or any(is_run_folder(f) for f in source.folders)
    )


def search_vault(
    vault: SpaceVault, query: str, source: VaultSource, skip: str | None, visit: Visit
) -> list[Finding]:
    """The best chunk of each matching note, within folders/tags, from the vault index.

    The index is refreshed first, which re-reads only notes changed since the
    last refresh (``VaultIndex.refresh``); vector and full-text rankings of the
    chunks are fused by reciprocal rank (``app.spaces.stores.recall``). Notes runs
    wrote are left out unless ``wants_run_notes``.
    """
    if vault.index is None:  # a vault opened outside a SpaceManager has no index
        return _scan_vault(vault, query, source, skip, visit)
    errors = [_error("files", e) for e in vault.index.refresh().errors[:5]]
    folders = [f.strip("/") + "/" for f in source.folders]
    depth = max(20, source.top_k * 6)
    leave_out = () if wants_run_notes(query, source) else GENERATED_TAGS
    rankings = vault_rankings(vault.index, query, depth, folders, exclude_tags=leave_out)
    hits = rrf(list(rankings), depth)
    skip_prefix = skip.rstrip("/") + "/" if skip else None
    best: dict[str, Finding] = {}
    for hit in hits:
        path = hit.citation["path"]
        if path in best or (skip_prefix and path.startswith(skip_prefix)):
            continue
        best[path] = {
            "agent": "files",
            "text": hit.text[:PASSAGE_MAX],
            "citation": {"kind": "vault", "ref": path, "label": path[:-3]},
            "score": round(hit.score * 1000, 3),
        }
    if source.tags:
        tags = vault.index.tags_of(list(best))
        best = {p: f for p, f in best.items() if set(source.tags) & set(tags.get(p, []))}
    for path in best:
        visit(path)
    return _ranked(list(best.values()), source.top_k * 3) + errors


def _scan_vault(
    vault: SpaceVault, query: str, source: VaultSource, skip: str | None, visit: Visit
) -> list[Finding]:
    """The best passage of each matching note (title and tags count), within folders/tags."""
    q = words(query)
    found: list[Finding] = []
    errors: list[Finding] = []
    folders = tuple(f.strip("/") + "/" for f in source.folders)
    leave_out = set() if wants_run_notes(query, source) else set(GENERATED_TAGS)
    for path in vault.list_notes()[:VAULT_NOTES_MAX]:
        if (skip and path.startswith(skip.rstrip("/") + "/")) or (
            folders and not path.startswith(folders)
        ):
            continue
        try:
            note = vault.read_note(path)
        except InvalidInput as exc:  # one unreadable note must not hide the others
            errors.append(_error("files", str(exc)))
            continue
        if (source.tags and not set(source.tags) & set(note.tags)) or leave_out & set(note.tags):
            continue
        visit(path)
        best, score = _best_passage(q, note.text)
        bonus = overlap(q, " ".join([path, *note.tags]))
        if score + bonus:
            found.append(
                {
                    "agent": "files",
                    "text": (best or note.text)[:PASSAGE_MAX],
                    "citation": {"kind": "vault", "ref": path, "label": path[:-3]},
                    "score": float(score + bonus),
                }
            )
    return _ranked(found, source.top_k * 3) + errors[:5]


def search_documents(docs: list[dict], query: str, top_k: int, visit: Visit) -> list[Finding]:
    """The best passage of each open document (latest active version of active objects)."""
    q = words(query)
    found: list[Finding] = []
    for doc in docs:
        ref = f"{doc['name']}#v{doc['version_id']}"
        visit(ref)
        best, score = _best_passage(q, doc["text"])
        score += overlap(q, doc["name"])
        if score:
            found.append(
                {
                    "agent": "files",
                    "text": (best or doc["text"])[:PASSAGE_MAX],
                    "citation": {
                        "kind": "document",
                        "ref": ref,
                        "label": f"document {doc['name']} (version {doc['version_id']})",
                    },
                    "score": float(score),
                }
            )
    return _ranked(found, top_k * 3)


def search_links(query: str, source: UrlSource, allow_private: bool, visit: Visit) -> list[Finding]:
    """Crawl from the seeds within the bounds; the best passage of each page."""
    q = words(query)
    pages, errors = crawl(
        source.seeds,
        max_pages=source.max_pages,
        max_depth=source.max_depth,
        same_host=source.same_host,
        allow_private=allow_private,
        on_visit=visit,
    )
    found: list[Finding] = []
    for page in pages:
        best, score = _best_passage(q, page.text)
        score += overlap(q, page.title)
        if score:
            note = " (page cut at the size limit)" if page.truncated else ""
            found.append(
                {
                    "agent": "links",
                    "text": (best or page.text)[:PASSAGE_MAX] + note,
                    "citation": {"kind": "url", "ref": page.url, "label": page.url},
                    "score": float(score),
                }
            )
    return _ranked(found, source.top_k * 3) + [_error("links", e) for e in errors[:5]]


def search_data(vault: SpaceVault, query: str, source: DataSource, visit: Visit) -> list[Finding]:
    """Statistics of the tables the specification names (or every table in the vault)."""
    q = words(query)
    files = source.files or vault.list_files(SUFFIXES, limit=20)
    found: list[Finding] = []
    for rel in files:
        try:
            path = vault.resolve(rel, SUFFIXES)
            if not path.is_file():
                raise DataError(f"no data file {rel!r} in the vault")
            visit(rel)
            table = load_table(path)
        except (InvalidInput, DataError) as exc:
            found.append(_error("data", str(exc)))
            continue
        shape = describe(table.frame)
        rows = shape["rows"]
        span = f"rows 1-{rows}" + (" (first rows only: file is larger)" if table.capped else "")
        try:
            facts = analyse(table.frame, q) or [f"columns {', '.join(shape['columns'])}"]
        except (ValueError, TypeError) as exc:  # e.g. two columns with one name
            found.append(_error("data", f"{rel}: cannot be analysed: {str(exc)[:200]}"))
            continue
        text = f"{rel}: {rows:,} rows analysed; " + "; ".join(facts)
        found.append(
            {
                "agent": "data",
                "text": text[:PASSAGE_MAX],
                "citation": {"kind": "file", "ref": f"{rel}#{span}", "label": f"{rel}, {span}"},
                "score": float(1 + overlap(q, text)),
            }
        )
    return found


def _echoes(name: str, query_words: set[str]) -> bool:
    """Whether an entity's name only restates the query (three words or more, all the query's).

    Runs name a topic entity after their question (the key facts), so a
    later run asking the same would otherwise "find" its own question.
    """
    named = words(name)
    return len(named) >= 3 and named <= query_words


def _graph_findings(graph: SpaceGraph, terms: list[str], query: str, limit: int, agent: str):
    q = words(query)
    found: list[Finding] = []
    for entity in graph.search(terms, limit=limit):
        name = entity["name"]
        if _echoes(name, q):
            continue
        relations = [r for r in entity["relations"] if not (_echoes(r[0], q) or _echoes(r[2], q))]
        facts = "; ".join(f"{a} {t} {b}" for a, t, b in relations[:20])
        text = f"{name} ({entity.get('kind') or 'entity'})" + (f": {facts}." if facts else ".")
        found.append(
            {
                "agent": agent,
                "text": text[:PASSAGE_MAX],
                "citation": {"kind": "graph", "ref": name, "label": f"graph node {name}"},
                "score": float(overlap(q, text)),
            }
        )
    return found


def search_graph(graph: SpaceGraph, query: str, source: GraphSource) -> list[Finding]:
    """Entities named in the query, their relations, and neighbours within ``hops``."""
    terms = sorted(words(query), key=len, reverse=True)
    found = _graph_findings(graph, terms, query, source.top_k * 2, "graph")
    seen = {f["citation"]["ref"] for f in found}  # type: ignore[index]
    for entity in list(seen)[: source.top_k]:
        for near in graph.neighbours(entity, hops=source.hops, limit=source.top_k):
            if near["name"] not in seen and not _echoes(near["name"], words(query)):
                seen.add(near["name"])
                found.append(
                    {
                        "agent": "graph",
                        "text": f"{near['name']} ({near.get('kind') or 'entity'}) is within "
                        f"{source.hops} hop(s) of {entity}.",
                        "citation": {
                            "kind": "graph",
                            "ref": near["name"],
                            "label": f"graph node {near['name']}",
                        },
                        "score": 0.5,
                    }
                )
    return _ranked(found, source.top_k * 3)


def _memory_hits(memory: MemoryStore, query: str, top_k: int) -> list:
    """Vector and full-text rankings fused by RRF (vector alone on a Qdrant server)."""
    found = memory.rankings(query, max(20, top_k * 4), vector=True, text=True)
    return [hit for hit, _ in fuse([found.vector, found.text], lambda h: h.id, top_k)]


def search_memory(memory: MemoryStore, graph: SpaceGraph, query: str, top_k: int) -> list[Finding]:
    """The best memories (vector + full text), plus the graph neighbourhood they name."""
    hits = _memory_hits(memory, query, top_k)
    found: list[Finding] = [
        {
            "agent": "memory",
            "text": hit.text[:PASSAGE_MAX],
            "citation": {"kind": "memory", "ref": hit.id, "label": f"memory {hit.id[:8]}"},
            "score": float(overlap(words(query), hit.text)) + float(hit.score or 0.0),
        }
        for hit in hits
    ]
    names = sorted({m for h in hits for m in re.findall(r"\b[A-Z][A-Za-z0-9]{2,}\b", h.text)})
    if names:
        found += _graph_findings(graph, [n.lower() for n in names[:10]], query, top_k, "memory")
    return found

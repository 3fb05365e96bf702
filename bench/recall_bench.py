"""Benchmark of space memory and recall on the embedded Postgres + pgvector.

Prints, in one run, in a temporary SPACES_HOME:

1. quality on the labelled set in tests/data/ (recall@5 and MRR for vector,
   text and hybrid recall over vault notes and memories);
2. opening a space's memory (warm process, new process) next to the cost of
   building a Mem0 ``Memory`` object on the same table (why memory.py talks
   to the table itself);
3. insert rates: one ``add`` at a time, ``import`` (COPY) with embedding;
4. at 10k and 100k memories (1M with --slow): search p50/p95, full-text
   p95, hybrid recall p95, recall@5 of HNSW against exact search on
   clustered data, and searches by a second process while this one writes;
5. the vault index: a full index of 1,000 notes, a refresh with 1 changed,
   and the old way (obsidiantools parsing every note) as the baseline.

Usage: python bench/recall_bench.py [--sizes 10000,100000] [--slow] [--queries 200]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from psycopg import sql
from psycopg.conninfo import make_conninfo

from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.memory_rows import vector_literal
from app.spaces.stores.memory_schema import BUILD_MEMORY, hnsw_index

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
DIMS = 256
WORDS = [f"w{n}" for n in range(500)]


def pct(samples: list[float], q: float) -> float:
    """The q-th percentile of ``samples`` (seconds) in milliseconds."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def line(label: str, samples: list[float]) -> None:
    """Print p50/p95 of ``samples``."""
    print(f"  {label:<34} n={len(samples):>5}  p50={pct(samples, 50):8.2f} ms  "
          f"p95={pct(samples, 95):8.2f} ms")  # fmt: skip


def timed(fn) -> tuple[float, object]:
    """``(seconds, result)`` of calling ``fn``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# -- 1. quality ----------------------------------------------------------------------------
def quality(manager: SpaceManager) -> None:
    """recall@5 and MRR of each mode on the labelled set."""
    corpus = [json.loads(x) for x in (DATA / "recall_corpus.jsonl").read_text().splitlines()]
    queries = json.loads((DATA / "recall_queries.json").read_text())["queries"]
    space = manager.open_space(manager.create_space(SpaceConfig("quality", "Q", "b")).space_id)
    by_ref: dict[str, str] = {}
    memories = []
    for n, doc in enumerate(corpus):
        if n % 2:
            memories.append((doc["text"], {"doc": doc["id"]}))
        else:
            path = f"Learning/doc-{n:04d}.md"
            (space.vault.root / path).write_text(doc["text"] + "\n")
            by_ref[path] = doc["id"]
    with space.memory() as memory:
        for memory_id, (_, meta) in zip(memory.add_many(memories), memories, strict=True):
            by_ref[memory_id] = meta["doc"]
    space.reindex_changed()
    print(f"quality: {len(queries)} queries over {len(corpus)} notes and memories "
          f"({len(corpus) - len(memories)} notes, {len(memories)} memories)")  # fmt: skip
    for mode in ("vector", "text", "hybrid"):
        found, rr = 0, 0.0
        for item in queries:
            hits = space.recall(item["q"], k=10, sources="memory,vault", mode=mode)
            ids = [by_ref.get(h.citation["ref"]) for h in hits]
            ranks = [i for i, d in enumerate(ids, 1) if d in item["answers"]]
            found += bool(ranks and ranks[0] <= 5)
            rr += 1 / ranks[0] if ranks else 0.0
        print(f"  {mode:<8} recall@5={found / len(queries):.3f}  MRR={rr / len(queries):.3f}")


# -- 2. open ---------------------------------------------------------------------------------
def open_times(settings: Settings, manager: SpaceManager, space_id: str) -> None:
    """Opening a space's memory, warm and in a fresh manager, and Mem0's own open."""
    warm = []
    for _ in range(200):
        t, _ = timed(lambda: manager.open_space(space_id).memory().__enter__())
        warm.append(t)
    cold = []
    for _ in range(10):
        start = time.perf_counter()
        with SpaceManager(settings) as fresh, fresh.open_space(space_id).memory() as memory:
            memory.stats()
        cold.append(time.perf_counter() - start)
    print("open a space's memory:")
    line("warm process (open_space+memory)", warm)
    line("new manager: pool, check, 1 query", cold)
    line("Mem0 Memory.from_config(pgvector)", mem0_open(manager, space_id))


def mem0_open(manager: SpaceManager, space_id: str) -> list[float]:
    """Seconds to build a Mem0 ``Memory`` on the space's table (its pgvector provider)."""
    from app.llm.resolve import resolve_chat_model
    from app.spaces.stores.memory_qdrant import _mem0_class

    config = manager.get_space(space_id)
    backends = manager.backends
    uri = make_conninfo(backends._uri, options=f"-c search_path={config.postgres_schema},public")
    memory_cls = _mem0_class(backends.settings.home)
    embedder = backends.embedder().model
    samples = []
    for n in range(5):
        start = time.perf_counter()
        memory = memory_cls.from_config(
            {
                "vector_store": {
                    "provider": "pgvector",
                    "config": {
                        "connection_string": uri,
                        "collection_name": config.mem0_collection_name,
                        "embedding_model_dims": DIMS,
                        "hnsw": True,
                    },
                },
                "embedder": {"provider": "langchain", "config": {"model": embedder}},
                "llm": {"provider": "langchain",
                        "config": {"model": resolve_chat_model("offline", backends.settings)}},
                "history_db_path": str(backends.settings.home / f"mem0-bench-{n}.db"),
            }
        )  # fmt: skip
        memory.search("warm up", filters={"user_id": space_id}, top_k=1)
        samples.append(time.perf_counter() - start)
        memory.close()
    return samples


# -- 3./4. scale -----------------------------------------------------------------------------
def clustered(n: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    """``n`` unit vectors around random cluster centers."""
    picks = rng.integers(0, len(centers), n)
    points = centers[picks] + rng.normal(0, 0.35, (n, DIMS)).astype(np.float32) / np.sqrt(DIMS)
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def load_synthetic(manager: SpaceManager, space_id: str, n: int, seed: int = 7) -> float:
    """COPY ``n`` clustered vectors into the space's memory (index built after); rows/s."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (200, DIMS)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    config = manager.get_space(space_id)
    table = sql.Identifier(config.postgres_schema, config.mem0_collection_name)
    hnsw = sql.Identifier(config.postgres_schema, f"{config.mem0_collection_name}_hnsw")
    start = time.perf_counter()
    with manager.backends.pool.connection() as conn, conn.transaction():
        conn.execute(BUILD_MEMORY)
        conn.execute(sql.SQL("DROP INDEX {}").format(hnsw))
        with conn.cursor().copy(
            sql.SQL("COPY {} (id, vector, payload) FROM STDIN").format(table)
        ) as copy:
            for first in range(0, n, 10_000):
                vectors = clustered(min(10_000, n - first), rng, centers)
                for i, v in enumerate(vectors, start=first):
                    words = " ".join(rng.choice(WORDS, 8))
                    payload = {"data": f"item {i}: {words}", "user_id": space_id}
                    copy.write_row((str(uuid.uuid4()), vector_literal(v), json.dumps(payload)))
        conn.execute(hnsw_index(config.postgres_schema, config.mem0_collection_name))
    elapsed = time.perf_counter() - start
    np.save(Path(manager.settings.home) / f"centers-{space_id}.npy", centers)
    return n / elapsed


def scale(settings: Settings, manager: SpaceManager, n: int, queries: int) -> None:
    """Search latencies, recall vs exact, and a reader process during writes, at ``n``."""
    sid = f"scale_{n}"
    manager.create_space(SpaceConfig(sid, f"{n}", "bench"))
    rate = load_synthetic(manager, sid, n)
    print(f"{n:,} memories: loaded at {rate:,.0f} rows/s (COPY, then HNSW build)")
    space = manager.open_space(sid)
    rng = np.random.default_rng(11)
    centers = np.load(Path(settings.home) / f"centers-{sid}.npy")
    probes = [vector_literal(v) for v in clustered(queries, rng, centers)]
    with space.memory() as memory:
        vec = [timed(lambda p=p: memory.vector_search(p, 5))[0] for p in probes]
        text = [timed(lambda: memory.text_search(" ".join(rng.choice(WORDS, 3)), 5))[0]
                for _ in range(queries)]  # fmt: skip
        line("vector search, top 5", vec)
        line("full-text search, top 5", text)
        exact_match = 0
        for p in probes[:50]:
            approx = {h.id for h in memory.vector_search(p, 5)}
            exact_match += len(approx & exact(manager, sid, p)) / 5
        print(f"  recall@5 of HNSW vs exact (50 queries, clustered): {exact_match / 50:.3f}")
    hybrid = [
        timed(lambda: space.recall(" ".join(rng.choice(WORDS, 3)), 5, "memory"))[0]
        for _ in range(queries // 2)
    ]
    line("hybrid recall (memory), top 5", hybrid)
    concurrent(settings, manager, sid)


def exact(manager: SpaceManager, sid: str, probe: str) -> set[str]:
    """Ids of the exact top 5 (the index switched off for the query)."""
    config = manager.get_space(sid)
    table = sql.Identifier(config.postgres_schema, config.mem0_collection_name)
    with manager.backends.pool.connection() as conn, conn.transaction():
        conn.execute("SET LOCAL enable_indexscan = off")
        rows = conn.execute(
            sql.SQL("SELECT id FROM {} ORDER BY vector <=> %s::vector LIMIT 5").format(table),
            [probe],
        ).fetchall()
    return {str(r[0]) for r in rows}


def _reader(home: str, sid: str, out: multiprocessing.Queue) -> None:
    settings = Settings.from_env({"SPACES_HOME": home, "SPACES_VAULTS_DIR": f"{home}/vaults"})
    samples = []
    with SpaceManager(settings) as manager, manager.open_space(sid).memory() as memory:
        for n in range(200):
            samples.append(timed(lambda n=n: memory.search(f"reader query {n % 17}", 5))[0])
    out.put(samples)


def concurrent(settings: Settings, manager: SpaceManager, sid: str) -> None:
    """A second process searches while this one adds memories one by one."""
    out: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    reader = multiprocessing.get_context("spawn").Process(
        target=_reader, args=(str(settings.home), sid, out)
    )
    reader.start()
    writes = []
    with manager.open_space(sid).memory() as memory:
        while reader.is_alive() and out.empty():
            writes.append(timed(lambda: memory.add(f"written while reading {len(writes)}"))[0])
            if len(writes) > 5_000:
                break
    samples = out.get(timeout=600)
    reader.join()
    line("2nd process search during writes", samples)
    line(f"add() one at a time ({len(writes)} meanwhile)", writes)


# -- 5. vault --------------------------------------------------------------------------------
def vault_cost(manager: SpaceManager) -> None:
    """Index 1,000 notes, refresh after 1 changed, versus parsing every note."""
    corpus = [json.loads(x) for x in (DATA / "recall_corpus.jsonl").read_text().splitlines()]
    space = manager.open_space(manager.create_space(SpaceConfig("vault1k", "V", "b")).space_id)
    for n in range(1000):
        doc = corpus[n % len(corpus)]
        (space.vault.root / "Learning" / f"note-{n:04d}.md").write_text(
            f"---\ntags: [bench]\n---\n# Note {n}\n\n{doc['text']}\n\nSee [[note-{(n + 1):04d}]].\n"
        )
    full, report = timed(space.reindex_changed)
    note = space.vault.root / "Learning" / "note-0500.md"
    note.write_text(note.read_text() + "\nEdited in Obsidian.\n")
    one = [timed(space.reindex_changed)[0]]
    for _ in range(9):
        one.append(timed(space.reindex_changed)[0])
    parse_all, _ = timed(lambda: [space.vault.read_note(p) for p in space.vault.list_notes()])
    print(f"vault index, 1,000 notes: full index {full * 1000:.0f} ms ({report.chunks} chunks)")
    print(f"  refresh with 1 changed: {one[0] * 1000:.1f} ms; with none changed: "
          f"p50 {pct(one[1:], 50):.1f} ms")  # fmt: skip
    print(f"  baseline, parse every note (old files agent): {parse_all * 1000:.0f} ms "
          f"= {parse_all / one[0]:.0f}x the refresh")  # fmt: skip


def import_rate(manager: SpaceManager, n: int) -> None:
    """``spaces memory import`` path: embed + COPY of ``n`` lines (rows/s)."""
    from app.spaces.stores.memory_store import MemoryRow

    corpus = [
        json.loads(x)["text"] for x in (DATA / "recall_corpus.jsonl").read_text().splitlines()
    ]
    rows = [MemoryRow(str(uuid.uuid4()), f"{corpus[i % len(corpus)]} ({i})") for i in range(n)]
    space = manager.open_space(manager.create_space(SpaceConfig(f"import_{n}", "I", "b")).space_id)
    with space.memory() as memory:
        t, added = timed(lambda: memory.bulk_load(rows))
    print(f"import of {n:,} lines (embed + COPY + index): {t:.1f} s = {added / t:,.0f} rows/s")


def main() -> None:
    """Run every part and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--slow", action="store_true", help="also 1,000,000 memories")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--import-lines", type=int, default=100_000)
    parser.add_argument("--only-quality", action="store_true", help="just part 1")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.slow else [])
    home = Path(tempfile.mkdtemp(prefix="recall-bench-"))
    settings = Settings.from_env({"SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "v")})
    try:
        with SpaceManager(settings) as manager:
            quality(manager)
            if args.only_quality:
                return
            open_times(settings, manager, "quality")
            vault_cost(manager)
            import_rate(manager, args.import_lines)
            for n in sizes:
                scale(settings, manager, n, args.queries)
    finally:
        stop_graph_server(settings)
        stop_postgres(settings)


if __name__ == "__main__":
    main()

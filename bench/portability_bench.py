"""Benchmark: export and import a space of 1,000 notes, 10,000 memories and 5,000 relations.

The space is filled through the stores' own write paths (notes through the
vault, memories embedded in batches and written to the space's vector
collection, relations through ``SpaceGraph.load_partition``); filling is
timed too and printed as the baseline the export and import times are
compared to (what writing the same data costs without a bundle). Prints the
bundle's size and the ratio of import time to fill time. Runs in a
temporary SPACES_HOME and stops its services at the end.

Usage: python bench/portability_bench.py [--notes 1000] [--memories 10000] [--relations 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.portability import portable_stores as stores
from app.spaces.portability.transfer import export_space, import_space
from app.spaces.space_manager import SpaceManager

TOPICS = ("raft", "paxos", "ledger", "block", "vote", "leader", "quorum", "log", "commit", "term")


def _sentence(n: int) -> str:
    a, b, c = TOPICS[n % 10], TOPICS[(n // 10) % 10], TOPICS[(n // 100) % 10]
    return f"Fact {n}: the {a} of the {b} depends on the {c} in round {n % 97}."


def fill(manager: SpaceManager, config: SpaceConfig, args: argparse.Namespace) -> float:
    """Write the notes, memories and relations; print each part's time; return the total."""
    t0 = start = time.perf_counter()
    handle = manager.handle(config)
    for n in range(args.notes):
        handle.vault.write_note(f"Learning/note-{n:05d}.md", f"# Note {n}\n\n{_sentence(n)}\n")
    notes = time.perf_counter()
    embedder = manager.backends.embedder()
    rows = []
    for first in range(0, args.memories, 1_000):
        texts = [_sentence(n) for n in range(first, min(args.memories, first + 1_000))]
        for text, vector in zip(texts, embedder.model.embed_documents(texts), strict=True):
            payload = {"data": text, "user_id": config.space_id, "space_id": config.space_id}
            rows.append({"id": str(uuid.uuid4()), "vector": list(vector), "payload": payload})
    stores.load_memories(manager.backends, config, rows, config.space_id)
    memories = time.perf_counter()
    relations = [
        {"source": f"entity {n}", "type": "RELATES_TO", "target": f"entity {n + 1}",
         "properties": {}}
        for n in range(args.relations)
    ]  # fmt: skip
    handle.graph.load_partition([], relations)
    end = time.perf_counter()
    print(
        f"fill parts: notes {notes - start:.2f} s, memories (embed + write) "
        f"{memories - notes:.2f} s, relations {end - memories:.2f} s"
    )
    return end - t0


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1_000)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--relations", type=int, default=5_000)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="spaces-bench-"))
    settings = Settings.from_env({"SPACES_HOME": str(home), "SPACES_VAULTS_DIR": str(home / "v")})
    try:
        with SpaceManager(settings) as manager:
            config = manager.create_space(SpaceConfig("bench_source", "Bench", "bench"))
            filled = fill(manager, config, args)
            bundle = home / "bench.tar.zst"
            t0 = time.perf_counter()
            out = export_space(manager, config.space_id, "bench", bundle)
            exported = time.perf_counter() - t0
            t0 = time.perf_counter()
            back = import_space(manager, bundle, new_id="bench_copy", owner="bench")
            imported = time.perf_counter() - t0
            graph = manager.handle(manager.get_space("bench_copy")).graph.counts()
        print(
            f"space: {out.counts['notes']} notes, {out.counts['memories']} memories, "
            f"{out.counts['relations']} relations; bundle {bundle.stat().st_size / 1e6:.1f} MB"
        )
        print(f"imported copy: {back.counts['memories']} memories, {graph['relations']} relations")
        print(f"fill (baseline, same stores) {filled:8.2f} s")
        print(f"export                       {exported:8.2f} s  ({exported / filled:.2f}x fill)")
        print(f"import                       {imported:8.2f} s  ({imported / filled:.2f}x fill)")
    finally:
        stop_graph_server(settings)
        stop_postgres(settings)


if __name__ == "__main__":
    main()

"""Research fan-out: four sub-agents in parallel against the slowest one alone.

A local OpenAI-protocol server answers every call after 200 ms (a slow
model). Each sub-agent makes one call (screening its finds) and the
synthesis one more. Research with FileExplorer, LinkCrawler, DataAnalyst and
MemoryRetriever together should take about as long as the slowest of them
alone, since ``Send`` runs the branches in parallel. Target: ratio <= 1.3.

Run: ``make bench`` (or ``PYTHONPATH=. .venv/bin/python bench/research_bench.py``).
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from langgraph.checkpoint.memory import InMemorySaver

from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.research import build_research
from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from app.spaces.infra.backends import Backends
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from tests.support.fake_openai import FakeOpenAI, completion

LATENCY_S = float(__import__("os").environ.get("BENCH_LATENCY_S", "0.2"))
REPEATS = 5
QUERY = "How does Raft count votes?"


def slow_model(body: dict) -> tuple[int, dict]:
    """Every answer after 200 ms: the screening schema, or a short synthesis."""
    time.sleep(LATENCY_S)
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("function", {}).get("name") == "Relevant":
        return 200, completion(tool_calls=[{"name": "Relevant", "args": {"ids": [1]}}])
    return 200, completion("Raft counts votes by majority [1].")


class Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body><p>Raft counts votes from a majority.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    site = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{site.server_address[1]}/"
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(slow_model) as model:
        settings = dataclasses.replace(
            Settings.from_env({"SPACES_HOME": f"{tmp}/home", "SPACES_VAULTS_DIR": f"{tmp}/v"}),
            openai_base_url=model.base_url,
            openai_api_key="sk-bench",
            allow_private_urls=True,
        )
        backends = Backends(settings)
        manager = SpaceManager(settings, backends)
        try:
            manager.create_space(SpaceConfig("bench", "Bench", "alice", monthly_token_budget=10**9))
            space = manager.open_space("bench", write=True)
            space.vault.write_note("Learning/Raft.md", "Raft counts votes from a majority.")
            (settings.vaults_dir / "bench" / "votes.csv").write_text("term,votes\n1,3\n2,5\n")
            with space.memory() as memory:
                memory.add("Raft votes are counted per term.", key="bench")
            sources = {
                "files": {"vault": {"folders": ["Learning"]}},  # not the notes runs write
                "links": {"urls": {"seeds": [url], "max_depth": 0}},
                "data": {"data": {"files": ["votes.csv"]}},
                "memory": {"memory": {}},
            }
            graph = build_research(Deps(settings, backends)).compile(checkpointer=InMemorySaver())
            context = RunContext(user_id="alice", model="openai:bench-model")

            def timed(spec: dict) -> float:
                times = []
                for _ in range(REPEATS + 1):
                    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
                    start = time.perf_counter()
                    out = graph.invoke(
                        {"space_id": "bench", "query": QUERY, "context_spec": spec},
                        config,
                        context=context,
                    )
                    times.append(time.perf_counter() - start)
                    if out.get("status") != "completed":
                        raise SystemExit(f"research did not complete: {out}")
                return statistics.median(times[1:])  # the first run warms caches

            singles = {name: timed(spec) for name, spec in sources.items()}
            together = timed({k: v for spec in sources.values() for k, v in spec.items()})
        finally:
            manager.close()
            stop_graph_server(settings)
            stop_postgres(settings)
    site.shutdown()
    slowest = max(singles, key=singles.get)
    print(f"Research with a model that answers in {LATENCY_S * 1000:.0f} ms; median of {REPEATS}")
    for name, seconds in singles.items():
        print(f"  {name:<7} alone : {seconds * 1000:7.0f} ms")
    print(f"  all four       : {together * 1000:7.0f} ms")
    ratio = together / singles[slowest]
    print(f"  ratio all four / slowest alone ({slowest}): {ratio:.2f} (target <= 1.3)")


if __name__ == "__main__":
    main()

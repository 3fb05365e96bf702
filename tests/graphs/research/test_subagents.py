"""Each research sub-agent on a built space and a local HTTP site, and under hostile input."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from app.graphs.context import RunContext
from app.graphs.research import build_research
from app.graphs.tools.data import MAX_ROWS
from app.graphs.tools.web import MAX_BYTES
from tests.support.deps import graph_deps

PAGES = {
    "/": '<html><title>Home</title><body><p>Welcome.</p><a href="/raft">Raft</a> '
    '<a href="/loop1">loop</a> <a href="/big">big</a> <a href="/binary">bin</a> '
    '<a href="http://elsewhere.invalid/x">other host</a></body></html>',
    "/raft": "<html><title>Raft notes</title><body><script>var raft = 1;</script>"
    "<p>Raft commits an entry once a majority of servers stored it.</p></body></html>",
}


class Site(BaseHTTPRequestHandler):
    """A small site with a redirect loop, a 50 MB page and a binary file."""

    def do_GET(self) -> None:
        if self.path in ("/loop1", "/loop2"):
            self.send_response(302)
            self.send_header("Location", "/loop2" if self.path == "/loop1" else "/loop1")
            self.end_headers()
            return
        if self.path == "/big":
            size = 50 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"raft " * 13_107 + b"\n"  # 64 KiB
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the crawler stops reading at its cap
            return
        if self.path == "/gzip":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b raft")
            return
        if self.path == "/away":
            self.send_response(302)
            self.send_header("Location", "http://localhost:9/raft")
            self.end_headers()
            return
        if self.path == "/binary":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(b"\x00\x01raft")
            return
        body = PAGES.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def research(settings, space_id: str, query: str, spec: dict) -> dict:
    graph = build_research(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"sub-{space_id}-{abs(hash(repr(spec)))}"}}
    events = [
        chunk
        for mode, chunk in graph.stream(
            {"space_id": space_id, "query": query, "context_spec": spec},
            config,
            context=RunContext(user_id="alice"),
            stream_mode=["custom", "updates"],
        )
        if mode == "custom"
    ]
    return {**graph.get_state(config).values, "events": events}


def by_agent(state: dict, agent: str) -> tuple[list[dict], list[dict]]:
    found = [f for f in state["findings"] if f["agent"] == agent]
    return [f for f in found if not f.get("error")], [f for f in found if f.get("error")]


def test_link_crawler_follows_same_host_links_within_bounds(settings, space, site) -> None:
    allowed = dataclasses.replace(settings, allow_private_urls=True)
    spec = {"urls": {"seeds": [f"{site}/"], "max_pages": 10, "max_depth": 1}}
    state = research(allowed, space.space_id, "How does Raft commit an entry?", spec)
    found, errors = by_agent(state, "links")
    assert f"{site}/raft" in {f["citation"]["ref"] for f in found}
    raft = next(f for f in found if f["citation"]["ref"] == f"{site}/raft")
    assert raft["citation"]["kind"] == "url"
    assert "majority of servers" in raft["text"] and "var raft" not in raft["text"]
    messages = " | ".join(e["error"] for e in errors)
    assert "redirect loop" in messages
    assert "application/octet-stream is not text" in messages
    assert "elsewhere.invalid" not in repr(state["findings"])  # other hosts are not followed
    big = [f for f in found if f["citation"]["ref"] == f"{site}/big"]
    assert big and "cut at the size limit" in big[0]["text"]
    assert len(big[0]["text"]) < MAX_BYTES
    visited = [e["payload"]["ref"] for e in state["events"] if e["event_type"] == "source.visited"]
    assert f"{site}/raft" in visited
    for event in state["events"]:
        assert {"space_id", "thread_id", "timestamp", "event_type"} <= set(event)
        assert event["space_id"] == space.space_id


def test_private_addresses_are_refused_without_the_allowance(settings, space, site) -> None:
    state = research(settings, space.space_id, "raft", {"urls": {"seeds": [f"{site}/raft"]}})
    found, errors = by_agent(state, "links")
    assert found == []
    assert "private or loopback address" in errors[0]["error"]
    assert "SPACES_ALLOW_PRIVATE_URLS" in errors[0]["error"]


def test_data_analyst_computes_statistics_and_survives_hostile_files(
    settings, space, manager
) -> None:
    vault_root = settings.vaults_dir / space.space_id
    (vault_root / "Data").mkdir()
    (vault_root / "Data" / "sales.csv").write_text("region,revenue\nnorth,10\nsouth,30\nnorth,20\n")
    (vault_root / "Data" / "fake.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    with (vault_root / "Data" / "huge.csv").open("w") as f:
        f.write("id,revenue\n")
        f.writelines(f"{n},{n % 7}\n" for n in range(1_000_000))
    state = research(settings, space.space_id, "What is the revenue by region?", {"data": {}})
    found, errors = by_agent(state, "data")
    sales = next(f for f in found if f["citation"]["ref"].startswith("Data/sales.csv"))
    assert sales["citation"] == {
        "kind": "file",
        "ref": "Data/sales.csv#rows 1-3",
        "label": "Data/sales.csv, rows 1-3",
    }
    assert "column revenue: mean 20, min 10, max 30, sum 60" in sales["text"]
    assert "most frequent values north (2)" in sales["text"]
    huge = next(f for f in found if f["citation"]["ref"].startswith("Data/huge.csv"))
    assert f"rows 1-{MAX_ROWS}" in huge["citation"]["ref"]
    assert "first rows only" in huge["citation"]["ref"]
    assert any("fake.csv is not a text file" in e["error"] for e in errors)
    outside = research(
        settings, space.space_id, "revenue", {"data": {"files": ["../../etc/passwd.csv"]}}
    )
    _, refused = by_agent(outside, "data")
    assert "inside the vault" in refused[0]["error"]


def test_four_sub_agents_in_parallel_each_cite_their_sources(
    settings, space, manager, site
) -> None:
    handle = manager.open_space(space.space_id, write=True)
    handle.vault.write_note("Learning/Raft.md", "Raft commits entries by majority vote.")
    (settings.vaults_dir / space.space_id / "votes.csv").write_text("term,votes\n1,3\n2,5\n")
    with handle.memory() as memory:
        memory.add("Raft was chosen for the Ledger service.", key="m1")
    handle.graph.merge_relation("Ledger", "USES", "Raft")
    allowed = dataclasses.replace(settings, allow_private_urls=True)
    spec = {
        "vault": {},
        "urls": {"seeds": [f"{site}/raft"], "max_depth": 0},
        "data": {"files": ["votes.csv"]},
        "memory": {},
    }
    state = research(allowed, space.space_id, "How does Raft use votes?", spec)
    kinds: dict[str, set[str]] = {}
    for f in state["findings"]:
        if not f.get("error"):
            kinds.setdefault(f["agent"], set()).add(f["citation"]["kind"])
    # MemoryRetriever adds the graph around the entities its memories name.
    assert kinds == {
        "files": {"vault"},
        "links": {"url"},
        "data": {"file"},
        "memory": {"memory", "graph"},
    }
    note = state["research"]
    assert "[[Raft]]" in note and f"{site}/raft" in note and "votes.csv" in note
    started = {
        e["payload"]["agent"]
        for e in state["events"]
        if e["event_type"] == "agent.status.changed" and e["payload"]["status"] == "started"
    }
    assert started == {"files", "links", "data", "memory"}


def test_a_sub_agent_at_its_token_share_reports_partial_findings(settings, manager, new_id) -> None:
    from app.spaces.model.space_model import SpaceConfig

    poor = manager.create_space(
        SpaceConfig(new_id("share"), "Share", "alice", monthly_token_budget=1_200)
    )
    handle = manager.open_space(poor.space_id, write=True)
    handle.vault.write_note("Learning/Raft.md", "Raft commits entries by majority vote.")
    handle.graph.merge_relation("Raft", "USES", "Majority")
    graph = build_research(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": f"share-{poor.space_id}"}}
    graph.invoke(
        {"space_id": poor.space_id, "query": "How does Raft commit?"},
        config,
        context=RunContext(user_id="alice", token_reserve=0),
    )
    state = graph.get_state(config).values
    files, files_errors = by_agent(state, "files")
    assert files and files[0]["citation"]["ref"] == "Learning/Raft.md"  # kept, unscreened
    assert any("token share" in e["error"] for e in files_errors)
    assert state["status"] == "budget_exceeded"  # nothing left for the synthesis either
    assert manager.get_usage(poor.space_id).tokens_used <= 1_200


def test_malformed_urls_compressed_bodies_and_host_changes_are_contained(
    settings, space, site
) -> None:
    allowed = dataclasses.replace(settings, allow_private_urls=True)
    seeds = ["http://[::1", f"{site}/gzip", f"{site}/away", f"{site}/raft"]
    state = research(allowed, space.space_id, "raft", {"urls": {"seeds": seeds}})
    found, errors = by_agent(state, "links")
    assert [f["citation"]["ref"] for f in found] == [f"{site}/raft"]
    messages = " | ".join(e["error"] for e in errors)
    assert "not a valid URL" in messages
    assert "compressed bodies are not accepted" in messages
    assert "redirected to another host" in messages
    assert state["status"] == "completed"


def test_duplicate_columns_and_oversized_json_are_error_findings(settings, space) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = settings.vaults_dir / space.space_id
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["revenue", "revenue"])
    pq.write_table(table, root / "dupes.parquet")
    with (root / "big.json").open("wb") as f:
        f.truncate(25_000_000)
    state = research(settings, space.space_id, "revenue", {"data": {}})
    _, errors = by_agent(state, "data")
    messages = " | ".join(e["error"] for e in errors)
    assert "dupes.parquet" in messages
    assert "big.json is 25,000,000 bytes" in messages
    assert state["status"] == "completed"

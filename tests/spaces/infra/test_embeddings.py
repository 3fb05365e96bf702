"""Embedders: the OpenAI wire path against a local server, and dimension mismatches."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from app.errors import InvalidInput, StoreUnavailable
from app.spaces.infra.embeddings import resolve_embedder
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager

DIMS = 8


def _vector(text: str) -> list[float]:
    """Bag-of-words hashed into DIMS buckets: similar texts get similar vectors."""
    vec = [0.0] * DIMS
    for word in text.lower().split():
        vec[hashlib.sha256(word.encode()).digest()[0] % DIMS] += 1.0
    return vec


class _OpenAIEmbeddings(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        payload = {
            "object": "list",
            "model": body["model"],
            "data": [
                {"object": "embedding", "index": i, "embedding": _vector(t)}
                for i, t in enumerate(inputs)
            ],
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def openai_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIEmbeddings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_embeddings_over_the_wire(settings, new_id, openai_server) -> None:
    remote = dataclasses.replace(
        settings,
        embeddings=f"openai:local-embed:{DIMS}",
        openai_base_url=openai_server,
        openai_api_key="test-key",
    )
    _OpenAIEmbeddings.requests.clear()
    with SpaceManager(remote) as manager:
        space = manager.create_space(SpaceConfig(new_id("oai"), "OpenAI", "alice"))
        with manager.open_space(space.space_id, write=True).memory() as memory:
            memory.add("raft consensus finality")
            memory.add("banana bread recipe")
            assert memory.search("raft finality")[0].text == "raft consensus finality"
    assert any(r["path"] == "/v1/embeddings" for r in _OpenAIEmbeddings.requests)
    assert {r["body"]["model"] for r in _OpenAIEmbeddings.requests} == {"local-embed"}
    # The collection was made with the remote embedder's size; the default one does not fit.
    with (
        SpaceManager(settings) as manager,
        pytest.raises(StoreUnavailable, match="8-dimension"),
        manager.open_space(space.space_id).memory(),
    ):
        pass


def test_unknown_embedder_names(settings) -> None:
    for name in ("nope", "openai:unknown-model", "openai:"):
        with pytest.raises(InvalidInput):
            resolve_embedder(name, settings)


def test_wordllama_ranks_related_text_first(manager: SpaceManager) -> None:
    model = manager.backends.embedder().model
    query = model.embed_query("how are blocks finalized in the ledger consensus")
    docs = ["Consensus protocol for blockchain finality", "A recipe for banana bread"]
    vectors = model.embed_documents(docs)
    scores = [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors]
    assert scores[0] > scores[1]


def test_loading_wordllama_leaves_the_root_logger_alone(settings) -> None:
    """WordLlama calls logging.basicConfig(INFO) on import; that must not leak."""
    import subprocess
    import sys

    code = (
        "import logging; from app.settings import Settings; "
        "from app.spaces.infra.embeddings import resolve_embedder; "
        f"home = {str(settings.home)!r}; "
        "resolve_embedder('wordllama', Settings.from_env({'SPACES_HOME': home})); "
        "root = logging.getLogger(); print(len(root.handlers), root.level)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "30"]  # no handler added, still WARNING

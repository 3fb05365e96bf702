"""Langfuse tracing: exported when its keys are set, silent and absent when they are not."""

from __future__ import annotations

import dataclasses
import gzip
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.graphs.tracing import run_config
from app.runner import Runner
from tests.support.cli import run_cli
from tests.support.deps import graph_deps


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """A local HTTP endpoint standing in for LANGFUSE_HOST; records (path, body)."""
    got: list[tuple[str, bytes]] = []

    class Sink(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            got.append((self.path, self.rfile.read(length)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET = _reply

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()
    server.server_close()


def test_runs_are_traced_with_space_and_user(settings, space, receiver) -> None:
    host, got = receiver
    traced = dataclasses.replace(
        settings,
        langfuse_public_key=f"pk-lf-{uuid.uuid4().hex[:8]}",
        langfuse_secret_key="sk-lf-test",
        langfuse_host=host,
    )
    result = Runner(traced, graph_deps(traced)).start("research", space.space_id, "What is traced?")
    assert result.status == "completed", result.error
    traces = b"".join(
        gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        for path, body in got
        if path.endswith("/otel/v1/traces")
    )
    assert traces, f"no trace export reached the receiver: {[p for p, _ in got]}"
    assert f"space:{space.space_id}".encode() in traces
    assert b"user:alice" in traces
    assert result.thread_id.encode() in traces  # the session id


def test_without_keys_nothing_is_attempted(settings, space) -> None:
    assert run_config(settings, space_id="x", user_id="u", thread_id="t") == {}
    done = run_cli(settings, "research", space.space_id, "Quiet please", "--json")
    assert done.returncode == 0, done.stderr
    assert "langfuse" not in done.stderr.lower()

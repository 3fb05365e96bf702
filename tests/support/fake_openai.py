"""A local HTTP server that speaks the OpenAI chat-completions protocol, for wire tests.

Each test scripts it with a ``responder(request_json) -> (status, body)``; the
server records every request it received. Nothing here imitates our own
stores: it stands in for the model provider only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def completion(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    model: str = "gpt-4o-mini",
    prompt_tokens: int = 100,
    completion_tokens: int = 20,
) -> dict[str, Any]:
    """A chat.completion body with the given message and usage."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{n}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["args"])},
            }
            for n, c in enumerate(tool_calls)
        ]
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def prompt_tokens(body: dict[str, Any]) -> int:
    """The fake's tokenizer on a request: four characters a token, plus role markers."""
    text = json.dumps(body.get("tools") or "") if body.get("tools") else ""
    for message in body.get("messages") or []:
        text += str(message.get("content") or "") + json.dumps(message.get("tool_calls") or "")
    return count_tokens(text) + 4 * len(body.get("messages") or [])


def stream_chunks(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat.completion body as the ``chat.completion.chunk`` objects of a streamed answer."""
    choice = reply["choices"][0]
    message = choice["message"]
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{**c, "index": n} for n, c in enumerate(message["tool_calls"])]
    head = {k: reply[k] for k in ("id", "created", "model")}
    return [
        {**head, "object": "chat.completion.chunk",
         "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**head, "object": "chat.completion.chunk",
         "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]},
        {**head, "object": "chat.completion.chunk", "choices": [], "usage": reply.get("usage")},
    ]  # fmt: skip


def count_tokens(text: str) -> int:
    """The fake's tokenizer: four characters a token, rounded up."""
    return (len(text) + 3) // 4


class FakeOpenAI:
    """Start with ``with FakeOpenAI(responder) as server:``; ``server.base_url`` is /v1.

    With a ``window``, it refuses a request whose prompt is longer, as
    llama-server does (HTTP 400 "request (N tokens) exceeds the available
    context size (M tokens)"), and records each request's prompt tokens in
    ``sizes``. With ``props`` it also answers llama-server's ``GET /props``
    (``n_ctx``) and ``POST /tokenize``; without, both are 404 as on OpenAI.
    """

    def __init__(self, responder: Responder, window: int | None = None, props: bool = False):
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self.sizes: list[int] = []
        self.refused = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, reply: dict[str, Any]) -> None:
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if props and window and self.path == "/props":
                    return self._send(200, {"default_generation_settings": {"n_ctx": window}})
                return self._send(404, {"error": {"message": "not found", "code": 404}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/tokenize":
                    if not props:
                        return self._send(404, {"error": {"message": "not found"}})
                    n = count_tokens(str(body.get("content") or ""))
                    return self._send(200, {"tokens": list(range(n))})
                outer.requests.append(body)
                size = prompt_tokens(body)
                outer.sizes.append(size)
                if window is not None and size > window:
                    outer.refused += 1
                    return self._send(
                        400,
                        {
                            "error": {
                                "code": 400,
                                "message": f"request ({size} tokens) exceeds the available "
                                f"context size ({window} tokens), try increasing it",
                                "type": "exceed_context_size_error",
                            }
                        },
                    )
                status, reply = outer.responder(body)
                if body.get("stream") and status == 200:
                    self._stream(reply)
                    return
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status in (429, 500, 502, 503):
                    self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: dict[str, Any]) -> None:
                # A client that streams (LangGraph's messages mode) gets the same
                # answer as server-sent chunks: the message, then the usage.
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in stream_chunks(reply):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    """An OpenAI-style error reply."""
    return status, {"error": {"message": message, "type": "server_error", "code": None}}


def llama_server_like(args: dict[str, Any]) -> Responder:
    """Like llama.cpp's ``llama-server``: honours ``response_format: json_schema`` (answering
    ``args``) but turns a named ``tool_choice`` into "auto", so a small model answers in prose.
    """

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("response_format"):
            return 200, completion(json.dumps(args))
        return 200, completion("Sure! Here is a plan: first collect facts, then write.")

    return responder


def no_response_format(args: dict[str, Any]) -> Responder:
    """Like servers that refuse ``response_format`` (HTTP 400) but honour a forced tool call."""

    def responder(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("response_format"):
            return error(400, "response_format is not supported")
        name = body["tool_choice"]["function"]["name"]
        return 200, completion(tool_calls=[{"name": name, "args": args}])

    return responder


PLAN = {
    "title": "Wire plan",
    "steps": [
        {"id": "s1", "description": "Collect facts", "depends_on": []},
        {"id": "s2", "description": "Write it up", "depends_on": ["s1"]},
    ],
}


def forced_tool(body: dict) -> str | None:
    """The tool a request forces the model to call (``tool_choice``), if any."""
    choice = body.get("tool_choice")
    return choice.get("function", {}).get("name") if isinstance(choice, dict) else None

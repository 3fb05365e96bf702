"""A chat turn as it runs: the run's stream, proxied to the page as server-sent events.

Why a proxy and not the Agent Server's own stream: the browser holds only
the console's cookie, never a bearer token, and the page wants a few plain
lines rather than LangGraph's frames. Each event the page gets is JSON:

- ``{"kind": "message", "id", "role", "name", "content"}``: a message the
  turn added to the session: the user's (the last one ``intake`` writes to
  ``messages``; the ones before it are the history it keeps) and the reply
  (``reply``'s), from the ``updates`` stream;
- ``{"kind": "token", "id", "node", "content"}``: a piece of an agent's
  answer while its model streams, from the ``messages`` stream (a real
  provider's; ``offline`` answers whole);
- ``{"kind": "event", "type", "payload"}``: the graph's progress events
  (``task.started``, ``task.completed``, ``approval.required``, ...).

and the stream ends with ``event: end``. The run is joined from its first
event (``last_event_id="-1"``; the console creates its runs resumable), so a
page opened after the turn began misses nothing. The page renders all of it
as text (``textContent``), never as markup.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

# The modes read; the join asks for all the run streams (a list given to the join is cut
# to its first mode on ``langgraph dev``, which reads one ``stream_mode`` query value).
STREAM_MODES = ("messages", "updates", "custom")
# The nodes that add the turn's messages, and how many of theirs are new (None: all).
MESSAGE_NODES = {"intake": -1, "reply": None}
ROLES = {"human": "user", "ai": "assistant"}
CONTENT_MAX = 20_000


def _text(content: Any) -> str:
    """A message's content as text (a list of parts keeps its text parts)."""
    if isinstance(content, str):
        return content[:CONTENT_MAX]
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return "".join(parts)[:CONTENT_MAX]
    return ""


def page_event(event: str, data: Any) -> dict[str, Any] | None:
    """One frame of the run's stream as the page's event, or ``None`` to skip it."""
    if event.startswith("custom") and isinstance(data, dict):
        return {"kind": "event", "type": str(data.get("event_type") or ""),
                "payload": data.get("payload") or {}}  # fmt: skip
    if not event.startswith("messages") or not isinstance(data, list) or not data:
        return None
    message, meta = data[0], (data[1] if len(data) > 1 else {}) or {}
    if not isinstance(message, dict) or not str(message.get("type") or "").endswith("Chunk"):
        return None  # whole messages come from the updates
    content = _text(message.get("content"))
    if not content:
        return None  # a tool call's pieces, or the usage at the end
    node = str(meta.get("langgraph_node") or "") if isinstance(meta, dict) else ""
    return {"kind": "token", "id": str(message.get("id") or ""), "node": node,
            "content": content}  # fmt: skip


def new_messages(data: Any) -> list[dict[str, Any]]:
    """The turn's new messages in one ``updates`` frame, as the page's events."""
    if not isinstance(data, dict):
        return []
    found = []
    for node, start in MESSAGE_NODES.items():
        update = data.get(node)
        written = update.get("messages") if isinstance(update, dict) else None
        if not isinstance(written, list):
            continue
        for message in written[start:] if start is not None else written:
            if not isinstance(message, dict):
                continue
            kind, content = str(message.get("type") or ""), _text(message.get("content"))
            if kind in ROLES and content:
                found.append({"kind": "message", "id": str(message.get("id") or ""),
                              "role": ROLES[kind], "name": str(message.get("name") or ""),
                              "content": content})  # fmt: skip
    return found


async def turn_events(client: Any, session_id: str, run_id: str | None) -> AsyncIterator[str]:
    """The SSE body for the turn ``run_id`` of the session (nothing but ``end`` without one)."""
    if run_id is not None:
        parts = client.runs.join_stream(session_id, run_id, last_event_id="-1")
        async for part in parts:
            if not part.event.startswith(STREAM_MODES):
                continue
            if part.event.startswith("updates"):
                shown = new_messages(part.data)
            else:
                shown = [e for e in [page_event(part.event, part.data)] if e is not None]
            for doc in shown:
                yield f"data: {json.dumps(doc, default=str)}\n\n"
    yield "event: end\ndata: {}\n\n"

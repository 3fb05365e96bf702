"""A graph for the SSE benchmark only: it emits timestamped custom events.

``{"n": N, "every_s": S}`` emits N events, S seconds apart, each carrying
the wall-clock time of its emission (``sent_at``), so a client measures
emit-to-receipt latency. Registered only in the benchmark's own server.
"""

from __future__ import annotations

import asyncio
import time

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class Probe(TypedDict, total=False):
    n: int
    every_s: float


async def emit_events(state: Probe) -> dict:
    """Emit ``n`` events, ``every_s`` seconds apart (async: waiting holds no thread)."""
    writer = get_stream_writer()
    for seq in range(int(state.get("n", 1))):
        writer({"seq": seq, "sent_at": time.time()})
        if state.get("every_s"):
            await asyncio.sleep(float(state["every_s"]))
    return {}


builder = StateGraph(Probe)
builder.add_node("emit_events", emit_events)
builder.add_edge(START, "emit_events")
builder.add_edge("emit_events", END)
graph = builder.compile(name="sse_probe")

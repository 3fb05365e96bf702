"""SSE delivery through the real LangGraph server (``langgraph dev``), with auth on.

1. Latency: a node emits 1,000 custom events, 5 ms apart (a burst of 1,000
   at once would measure how fast a backlog drains, not delivery); each
   carries its emission time and the client records when it receives it.
   Prints p50 and p99 (seed 001's target: p99 under 100 ms).
2. Load: 200 concurrent SSE connections for one user, each a run streaming
   an event every 5 s for 60 s. Prints how many completed without error.

Run: ``make bench`` (or ``PYTHONPATH=. .venv/bin/python bench/sse_bench.py``).
Set ``SSE_HOLD_S`` to shorten the 60 s hold.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from langgraph_sdk import get_client

from app.server.tokens import issue_token
from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from tests.support.devserver import start_dev_server
from tests.support.settings import ROOT

SECRET = "bench-secret-" + "z" * 32
EVENTS = 1_000
CONNECTIONS = 200
HOLD_S = float(os.environ.get("SSE_HOLD_S", "60"))
EVERY_S = 5.0


async def latency(client) -> list[float]:
    thread = await client.threads.create()
    delays = []
    async for chunk in client.runs.stream(
        thread["thread_id"], "sse_probe", input={"n": EVENTS, "every_s": 0.005},
        stream_mode="custom",
    ):  # fmt: skip
        if chunk.event == "custom":
            delays.append((time.time() - chunk.data["sent_at"]) * 1000)
    return delays


async def hold(client, n: int) -> tuple[int, int]:
    thread = await client.threads.create()
    received = 0
    async for chunk in client.runs.stream(
        thread["thread_id"], "sse_probe",
        input={"n": int(HOLD_S / EVERY_S), "every_s": EVERY_S}, stream_mode="custom",
    ):  # fmt: skip
        if chunk.event == "custom":
            received += 1
        elif chunk.event == "error":
            raise RuntimeError(f"connection {n}: {chunk.data}")
    return n, received


async def main_async(url: str) -> None:
    token = issue_token("bench", secret=SECRET, ttl_s=3_600)
    client = get_client(url=url, headers={"Authorization": f"Bearer {token}"}, timeout=HOLD_S + 120)
    await latency(client)  # warm-up
    delays = sorted(await latency(client))
    p50 = statistics.median(delays)
    p99 = delays[int(len(delays) * 0.99) - 1]
    print(f"SSE delivery, {len(delays)} events: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          "(target p99 < 100 ms)")  # fmt: skip
    # One HTTP client holds at most 100 connections; use one per 50 streams.
    clients = [
        get_client(url=url, headers={"Authorization": f"Bearer {token}"}, timeout=HOLD_S + 120)
        for _ in range(CONNECTIONS // 50)
    ]
    start = time.monotonic()
    results = await asyncio.gather(
        *(hold(clients[n % len(clients)], n) for n in range(CONNECTIONS)), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    expected = int(HOLD_S / EVERY_S)
    complete = [r for r in results if not isinstance(r, BaseException) and r[1] == expected]
    print(f"{CONNECTIONS} concurrent SSE connections held {HOLD_S:.0f} s "
          f"({time.monotonic() - start:.0f} s wall): {len(complete)} complete, "
          f"{len(errors)} errors")  # fmt: skip
    for error in errors[:3]:
        print("  error:", type(error).__name__, str(error)[:200])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        probe = str(ROOT / "bench" / "sse_probe.py") + ":graph"
        url, proc = start_dev_server(
            home, SECRET, {"sse_probe": probe}, "--n-jobs-per-worker", str(CONNECTIONS + 10)
        )
        try:
            asyncio.run(main_async(url))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            settings = Settings.from_env({"SPACES_HOME": str(home)})
            stop_graph_server(settings)
            stop_postgres(settings)


if __name__ == "__main__":
    main()

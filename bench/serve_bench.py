"""Serving on Aegra (``spaces serve``): throughput, takeover, and 1,000 SSE connections.

Everything runs on loopback in a temporary home: the embedded Postgres, the
embedded Redis, Aegra instances, and a stand-in OpenAI-protocol model
(tests/support/fake_openai.py) that answers every call in 200 ms.

1. Runs per second: ``RUNS`` rpi runs (research and plan, up to the plan
   approval: two model calls each), ``CONCURRENCY`` at a time, through one
   instance, then through two (requests alternate between them). Prints
   both and their ratio.
2. Takeover: a run whose model calls take 4 s is started; the instance that
   claimed it is SIGKILLed one second in; prints how long until the other
   instance has finished it (leases of 9 s, reaper every 3 s).
3. ``CONNECTIONS`` (1,000) concurrent SSE connections for one user, held
   ``SSE_HOLD_S`` (60) s: 20 runs each emit an event a second, each joined
   by 50 connections, spread over both instances. Prints completed,
   errors and the p99 delivery time (emission to receipt). Each connection
   holds a Redis connection, so ``REDIS_MAX_CONNECTIONS`` (Aegra's default
   250 per instance) is raised to fit.

Run: ``PYTHONPATH=. .venv/bin/python bench/serve_bench.py``. The loops are
bounded; set ``SSE_HOLD_S`` to shorten the hold.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from langgraph_sdk import get_client

from app.server.tokens import issue_token
from app.services.aegra import CONFIG, running_instances, serve, stop_instances
from app.services.falkordb import stop_graph_server
from app.services.postgres import ensure_postgres, stop_postgres
from app.services.redis import stop_redis
from tests.support.aegraserver import FAST_TAKEOVER, free_ports
from tests.support.fake_openai import PLAN, FakeOpenAI, completion, forced_tool
from tests.support.settings import ROOT, make_settings

SECRET = "bench-secret-" + "s" * 32
MODEL_S = 0.2
SLOW_MODEL_S = 4.0
RUNS = int(os.environ.get("SERVE_RUNS", "40"))
CONCURRENCY = 10
CONNECTIONS = int(os.environ.get("SSE_CONNECTIONS", "1000"))
PROBE_RUNS = 20
HOLD_S = float(os.environ.get("SSE_HOLD_S", "60"))


def model(body: dict) -> tuple[int, dict]:
    """The stand-in model: 200 ms a call (4 s when the query says SLOW)."""
    time.sleep(SLOW_MODEL_S if "SLOW" in json.dumps(body) else MODEL_S)
    if forced_tool(body) == "Plan":
        return 200, completion(tool_calls=[{"name": "Plan", "args": PLAN}])
    if forced_tool(body) == "KeyFacts":
        return 200, completion(tool_calls=[{"name": "KeyFacts", "args": {"facts": []}}])
    return 200, completion("A finding [1].")


def probe_config(home: Path) -> Path:
    """aegra.json plus the SSE probe graph, with absolute paths."""
    config = json.loads(CONFIG.read_text())
    config["dependencies"] = [str(ROOT)]
    config["graphs"] = {k: str(ROOT / v.removeprefix("./")) for k, v in config["graphs"].items()}
    config["graphs"]["sse_probe"] = str(ROOT / "bench" / "sse_probe.py") + ":graph"
    path = home / "aegra.json"
    path.write_text(json.dumps(config))
    return path


def client(url: str):
    token = issue_token("bench", secret=SECRET)
    return get_client(url=url, headers={"Authorization": f"Bearer {token}"}, timeout=HOLD_S + 120)


async def runs_per_second(urls: list[str], label: str) -> float:
    clients = [client(u) for u in urls]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(n: int) -> str:
        async with gate:
            c = clients[n % len(clients)]
            thread = await c.threads.create()
            out = await c.runs.wait(
                thread["thread_id"],
                "rpi",
                input={"space_id": f"bench_{n % CONCURRENCY}", "query": f"Raft {n}?"},
            )
            return out.get("status", "?")

    await asyncio.gather(*(one(n) for n in range(CONCURRENCY)))  # warm-up: graphs loaded
    start = time.monotonic()
    statuses = await asyncio.gather(*(one(n) for n in range(RUNS)))
    rate = RUNS / (time.monotonic() - start)
    waiting = statuses.count("awaiting_approval")
    print(f"{label}: {RUNS} runs to the plan approval, {CONCURRENCY} at a time: "
          f"{rate:.2f} runs/s ({waiting} reached the approval)")  # fmt: skip
    return rate


def claimed_by(settings, run_id: str) -> str | None:
    with psycopg.connect(ensure_postgres(settings)) as conn:
        row = conn.execute("SELECT claimed_by FROM runs WHERE run_id = %s", (run_id,)).fetchone()
    return row[0] if row else None


async def takeover(settings, urls: list[str]) -> None:
    c = client(urls[0])
    thread = await c.threads.create()
    run = await c.runs.create(
        thread["thread_id"], "rpi", input={"space_id": "bench", "query": "SLOW takeover"}
    )
    owner = None
    for _ in range(100):
        owner = claimed_by(settings, run["run_id"])
        if owner:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    instances = running_instances(settings)
    # Aegra names its workers <host>-<pid>-worker-<n>; that pid is uvicorn's,
    # in the process group of the `aegra serve` that spaces serve started.
    worker_pid = int(str(owner).split("-worker-")[0].rsplit("-", 1)[-1])
    victim = next((p for p, pid in instances.items() if os.getpgid(worker_pid) == pid), None)
    if victim is None:
        print(f"takeover: could not tell which instance claimed the run ({owner})")
        return
    os.killpg(instances[victim], 9)
    killed = time.monotonic()
    other = client(next(u for u in urls if not u.endswith(f":{victim}")))
    status = "?"
    for _ in range(240):  # at most two minutes
        status = (await other.runs.get(thread["thread_id"], run["run_id"]))["status"]
        if status not in ("pending", "running"):
            break
        await asyncio.sleep(0.5)
    print(f"takeover: run claimed by the instance on port {victim}, SIGKILLed 1 s in; "
          f"finished by the other ({status}) {time.monotonic() - killed:.1f} s after the kill "
          f"(lease {FAST_TAKEOVER['LEASE_DURATION_SECONDS']} s)")  # fmt: skip


async def sse(urls: list[str]) -> None:
    starters = [client(u) for u in urls]
    runs = []
    for n in range(PROBE_RUNS):
        c = starters[n % len(starters)]
        thread = await c.threads.create()
        run = await c.runs.create(
            thread["thread_id"], "sse_probe", input={"n": int(HOLD_S), "every_s": 1.0},
            stream_mode=["custom"], stream_resumable=True,
        )  # fmt: skip
        runs.append((thread["thread_id"], run["run_id"]))
    # One HTTP client holds at most 100 connections; one per 50 streams.
    joiners = [client(urls[i % len(urls)]) for i in range(max(1, CONNECTIONS // 50))]
    delays: list[float] = []

    replayed = 0

    async def hold(n: int) -> int:
        nonlocal replayed
        thread_id, run_id = runs[n % len(runs)]
        received = 0
        opened = time.time()
        async for chunk in joiners[n % len(joiners)].runs.join_stream(
            thread_id, run_id, stream_mode=["custom"]
        ):
            if chunk.event.startswith("custom"):
                received += 1
                if chunk.data["sent_at"] < opened:
                    replayed += 1  # emitted before this connection opened
                else:
                    delays.append((time.time() - chunk.data["sent_at"]) * 1000)
            elif chunk.event == "error":
                raise RuntimeError(f"connection {n}: {chunk.data}")
        return received

    start = time.monotonic()
    results = await asyncio.gather(
        *(asyncio.wait_for(hold(n), HOLD_S + 120) for n in range(CONNECTIONS)),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    completed = [r for r in results if not isinstance(r, BaseException) and r > 0]
    delays.sort()
    p99 = delays[max(0, int(len(delays) * 0.99) - 1)] if delays else float("nan")
    p50 = statistics.median(delays) if delays else float("nan")
    print(f"{CONNECTIONS} concurrent SSE connections, one user, {len(urls)} instances, held "
          f"{HOLD_S:.0f} s ({time.monotonic() - start:.0f} s wall): {len(completed)} completed, "
          f"{len(errors)} errors; {len(delays)} live events (+{replayed} replayed), "
          f"delivery p50 {p50:.0f} ms, "
          f"p99 {p99:.0f} ms")  # fmt: skip
    for error in errors[:3]:
        print("  error:", type(error).__name__, str(error)[:200])


async def main_async(settings, env: dict[str, str], config: Path) -> None:
    port = free_ports(2)
    one = serve(settings, 1, port, env, config)
    # A space per concurrent run: one space's runs share its Qdrant local
    # folder, whose file lock would serialise them across instances.
    async with httpx.AsyncClient(timeout=60) as http:
        for space_id in ["bench"] + [f"bench_{n}" for n in range(CONCURRENCY)]:
            created = await http.post(
                f"{one[0]}/my/spaces", json={"space_id": space_id, "name": "Bench",
                                             "token_budget": 10**9, "api_call_budget": 10**6},
                headers={"Authorization": f"Bearer {issue_token('bench', secret=SECRET)}"},
            )  # fmt: skip
            assert created.status_code == 201, created.text
    rate1 = await runs_per_second(one, "1 instance ")
    both = serve(settings, 2, port, env, config)
    rate2 = await runs_per_second(both, "2 instances")
    print(f"2 instances / 1 instance: {rate2 / rate1:.2f}x (on {os.cpu_count()} CPUs)")
    await takeover(settings, both)
    serve(settings, 2, port, env, config)  # bring the killed one back
    await sse(both)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(model) as fake:
        home = Path(tmp)
        settings = make_settings(home)
        env = {
            **os.environ,
            **FAST_TAKEOVER,
            "SPACES_HOME": str(home),
            "SPACES_VAULTS_DIR": str(home / "vaults"),
            "SPACES_JWT_SECRET": SECRET,
            "SPACES_MODEL": "openai:gpt-4o-mini",
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-bench",
            "LOG_LEVEL": "WARNING",
            "N_JOBS_PER_WORKER": "100",
            # Each SSE connection holds a Redis connection; Aegra's default pool is 250.
            "REDIS_MAX_CONNECTIONS": str(CONNECTIONS + 200),
        }
        try:
            asyncio.run(main_async(settings, env, probe_config(home)))
        finally:
            stop_instances(settings)
            stop_redis(settings)
            stop_graph_server(settings)
            stop_postgres(settings)


if __name__ == "__main__":
    main()

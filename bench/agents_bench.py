"""Agents and chat benchmarks: our own time per turn, and parallel tasks with a slow model.

1. Direct mode (``@agent ...``): one turn = admit, one task (the agent's
   context retrieved from the space's memory, one model call), the reply,
   then the interaction remembered and the compaction check, with the
   ``offline`` model (deterministic, sub-millisecond) and every store live
   (Postgres checkpointer, memory). Prints p50/p95 ms to the reply and to the
   end of the turn: our own time, the model's is negligible. Target p95 <
   100 ms. Also prints what one opening of the space's memory costs.
2. Planning: from the message to the ``plan_approval`` interrupt (admit, the
   planner call, the plan checks), offline model. Target < 200 ms.
3. Parallel tasks with a model that answers in 200 ms (a local
   OpenAI-compatible server): a 3-task plan of independent tasks against a
   1-task plan, from the approval to the reply. Target <= 1.2x.
4. Six independent tasks: about two waves, never more than 3 model calls at
   once; prints the peak the model server saw.

Run: ``.venv/bin/python bench/agents_bench.py``.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.graphs.chat.client import ChatClient
from app.graphs.deps import Deps
from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from app.spaces.model.space_model import SpaceConfig
from app.spaces.stores.agents import AgentStore
from tests.support.fake_openai import FakeOpenAI, completion

RUNS = 30
DELAY_S = 0.2


class SlowModel:
    """A model server that answers agents in 200 ms and counts calls in flight."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __call__(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        tools = [t["function"]["name"] for t in request.get("tools") or []]
        if "TaskPlan" in tools:  # the planner: split "a; b; c" into tasks, one per agent
            text = request["messages"][-1]["content"]
            request_text = text.split("<request>")[1].split("</request>")[0]
            parts = [p.strip() for p in request_text.split(";")]
            tasks = [{"id": f"t{n}", "agent": f"a{n % 3}", "description": p}
                     for n, p in enumerate(parts)]  # fmt: skip
            return 200, completion(tool_calls=[{"name": "TaskPlan", "args": {"tasks": tasks}}])
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(DELAY_S)
        with self.lock:
            self.in_flight -= 1
        return 200, completion("done")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {"SPACES_HOME": f"{tmp}/home", "SPACES_VAULTS_DIR": f"{tmp}/vaults"}
        )
        deps = Deps.from_settings(settings)
        manager = deps.manager()
        slow = SlowModel()
        try:
            manager.create_space(SpaceConfig("bench", "Bench", "alice", monthly_token_budget=10**9))
            store = AgentStore(manager.open_space("bench", write=True))
            store.create("writer", system_prompt="You write.", model="offline", user_id="alice")
            client = ChatClient(deps)
            session = client.send("bench", "alice", "@writer warm up").session_id
            to_reply: list[float] = []
            direct: list[float] = []
            for n in range(RUNS):
                start = time.perf_counter()

                def seen(event: dict[str, Any], start: float = start) -> None:
                    if event["event_type"] == "message.created" and event["payload"]["role"] == (
                        "assistant"
                    ):
                        to_reply.append((time.perf_counter() - start) * 1000)

                client.send("bench", "alice", f"@writer note {n}", session_id=session,
                            on_event=seen)  # fmt: skip
                direct.append((time.perf_counter() - start) * 1000)
            handle = manager.open_space("bench", write=True)

            def open_memory() -> None:
                with handle.memory():
                    pass

            opening = [timed(open_memory) for _ in range(RUNS)]
            planning = [
                timed(lambda n=n: client.send("bench", "alice", f"writer draft {n}"))
                for n in range(RUNS)
            ]
            print(f"1. Direct mode, offline model, every store live, n = {RUNS}")
            print(f"   to the reply   p50 {statistics.median(to_reply):6.1f} ms   "
                  f"p95 {percentile(to_reply, .95):6.1f} ms   (target p95 < 100 ms)")  # fmt: skip
            print(f"   whole turn     p50 {statistics.median(direct):6.1f} ms   "
                  f"p95 {percentile(direct, .95):6.1f} ms   (the agent's context is stored after"
                  " the reply)")  # fmt: skip
            print(f"   one opening of the space's memory (a turn opens it twice): "
                  f"p50 {statistics.median(opening):6.1f} ms")  # fmt: skip
            print(f"2. Planning to the approval, offline model, n = {RUNS}")
            print(f"   p50 {statistics.median(planning):6.1f} ms   "
                  f"p95 {percentile(planning, .95):6.1f} ms   (target < 200 ms)")  # fmt: skip

            with FakeOpenAI(slow) as server:
                fake = dataclasses.replace(
                    settings, openai_base_url=server.base_url, openai_api_key="k"
                )
                slow_client = ChatClient(Deps(fake, deps.backends))
                for n in range(3):
                    store.create(f"a{n}", system_prompt="You work.", model="openai:gpt-4o-mini",
                                 user_id="alice")  # fmt: skip

                def execute(parts: int) -> float:
                    text = "; ".join(f"job {n}" for n in range(parts))
                    asked = slow_client.send("bench", "alice", text, model="openai:gpt-4o-mini")
                    start = time.perf_counter()
                    done = slow_client.send("bench", "alice", "", session_id=asked.session_id,
                                            answer="approve")  # fmt: skip
                    assert done.status == "completed", done.error
                    return (time.perf_counter() - start) * 1000

                execute(1)  # warm-up
                one = statistics.median([execute(1) for _ in range(5)])
                three = statistics.median([execute(3) for _ in range(5)])
                slow.peak = 0
                six = statistics.median([execute(6) for _ in range(3)])
            print(f"3. Model answering in {DELAY_S * 1000:.0f} ms, approval to reply (median of 5)")
            print(f"   1 task {one:6.1f} ms   3 independent tasks {three:6.1f} ms   "
                  f"ratio {three / one:.2f}x   (target <= 1.2x)")  # fmt: skip
            print(
                f"4. 6 independent tasks {six:6.1f} ms = {six / one:.2f}x one task "
                f"(two waves); peak model calls at once: {slow.peak} (limit 3)"
            )
        finally:
            deps.backends.close()
            stop_graph_server(settings)
            stop_postgres(settings)


if __name__ == "__main__":
    main()

"""RPI benchmarks: engine overhead with every store live, and budget enforcement.

1. Engine overhead. The ``rpi`` graph with the offline model (deterministic,
   no network, effectively zero latency) and every store live: embedded
   Postgres (with the Postgres checkpointer), Qdrant local, FalkorDB and the
   vault. Baseline: the same graph shape (same nodes, edges, ``Send`` fan-out
   and interrupt) whose nodes call the same model but touch no store, with an
   in-memory checkpointer. Prints runs/s, p50 and p95 ms and the ratio, beside
   the figure issue 10 measured before (p50 841 ms).
2. Budget admission. 20 runs at once on one space whose budget is 4.5 run
   estimates (``rpi_estimate``), so some runs can be admitted and the rest
   must be refused; prints the overspend (must be 0), the runs completed and
   refused at admission, and the tokens spent by runs that did not complete
   (must be at most one run's estimate).

3. With ``--breakdown``: the live run's own time by cause (``breakdown.py``),
   in ms per run, so what is left of the 150 ms budget is named.

Run: ``make bench`` (or ``.venv/bin/python bench/rpi_bench.py [--breakdown]``).
"""

from __future__ import annotations

import itertools
import operator
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt
from typing_extensions import TypedDict

from app.graphs.context import RunContext
from app.graphs.deps import Deps
from app.graphs.estimate import rpi_estimate
from app.graphs.research.state import Relevant
from app.graphs.rpi import build_rpi
from app.graphs.rpi.state import KeyFacts, Plan
from app.llm.offline import OfflineChatModel
from app.services.falkordb import stop_graph_server
from app.services.postgres import stop_postgres
from app.settings import Settings
from app.spaces.infra.backends import Backends
from app.spaces.model.space_model import SpaceConfig
from app.spaces.space_manager import SpaceManager
from app.spaces.stores.budget import thread_totals

QUERY = "How does Raft make ledger blocks final?"
RUNS = 20
BEFORE_P50_MS = 841.0  # issue 10, measured on main before the scope and native-graph work
BUDGET_RUNS = 4.5  # the budget space holds this many run estimates


class BareState(TypedDict, total=False):
    query: str
    findings: Annotated[list, operator.add]
    plan: dict
    step: int


def bare_builder() -> StateGraph:
    """The rpi graph's shape with the same model calls and no stores."""
    model = OfflineChatModel()

    def ask(text: str, schema: Any = None) -> Any:
        bound = model.with_structured_output(schema) if schema else model
        return bound.invoke([HumanMessage(text)])

    def admit(state: BareState) -> Command[Literal["prepare"]]:
        return Command(goto="prepare")

    def prepare(state: BareState) -> Command[Literal["agent"]]:
        return Command(goto=[Send("agent", {"query": state["query"]}) for _ in range(3)])

    def agent(task: dict) -> dict:
        ask(f'<query>{task["query"]}</query><candidate id="1">x</candidate>', Relevant)
        return {"findings": [task["query"]]}

    def synthesize(state: BareState) -> dict:
        ask(f"<task>research</task><query>{state['query']}</query>")
        return {}

    def plan(state: BareState) -> dict:
        return {"plan": ask(f"<query>{state['query']}</query>", Plan).model_dump(), "step": 0}

    def approve(state: BareState) -> Command[Literal["implement"]]:
        interrupt({"type": "plan_approval"})
        return Command(goto="implement")

    def implement(state: BareState) -> Command[Literal["implement", "extract"]]:
        if state["step"] >= len(state["plan"]["steps"]):
            return Command(goto="extract")
        ask(f"<task>implement</task><step>{state['plan']['steps'][state['step']]}</step>")
        return Command(goto="implement", update={"step": state["step"] + 1})

    def extract(state: BareState) -> dict:
        ask(f"<query>{state['query']}</query>", KeyFacts)
        return {}

    g = StateGraph(BareState)
    for name, fn in [
        ("admit", admit), ("prepare", prepare), ("agent", agent), ("synthesize", synthesize),
        ("plan", plan), ("approve", approve), ("implement", implement), ("extract", extract),
    ]:  # fmt: skip
        g.add_node(name, fn)
    g.add_edge(START, "admit")
    g.add_edge("agent", "synthesize")
    g.add_edge("synthesize", "plan")
    g.add_edge("plan", "approve")
    g.add_edge("extract", END)
    return g


def one_run(graph: Any, payload: dict, context: RunContext | None) -> float:
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    start = time.perf_counter()
    graph.invoke(payload, config, context=context)
    out = graph.invoke(Command(resume={"action": "approve"}), config, context=context)
    elapsed = time.perf_counter() - start
    if context is not None and out.get("status") != "completed":
        raise SystemExit(f"run did not complete: {out}")
    return elapsed


def measure(fn: Any) -> tuple[float, float, float]:
    """Runs/s, p50 ms and p95 ms of ``fn`` over ``RUNS`` runs after a warm-up."""
    fn()  # warm-up: imports, connections, caches
    times = sorted(fn() for _ in range(RUNS))
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return RUNS / sum(times), statistics.median(times) * 1000, p95 * 1000


def budget_figures(full: Any, manager: SpaceManager, pool: Any) -> None:
    """20 concurrent runs on a space that can afford 4.5 of them."""
    estimate = rpi_estimate(3)
    budget = int(BUDGET_RUNS * estimate)
    space = manager.create_space(
        SpaceConfig("budget", "Budget", "alice", monthly_token_budget=budget)
    )
    tight = RunContext(user_id="alice")

    def spend(n: int) -> tuple[str, int]:
        thread = f"budget-{n}"
        config = {"configurable": {"thread_id": thread}}
        body = {"space_id": space.space_id, "query": f"{QUERY} ({n})"}
        out = full.invoke(body, config, context=tight)
        if out.get("status") == "awaiting_approval":
            out = full.invoke(Command(resume={"action": "approve"}), config, context=tight)
        return str(out.get("status")), thread_totals(pool, thread)[0]

    with ThreadPoolExecutor(20) as pool_:
        results = list(pool_.map(spend, range(20)))
    used = manager.get_usage(space.space_id).tokens_used
    completed = [t for s, t in results if s == "completed"]
    refused = [t for s, t in results if s == "budget_exceeded" and t == 0]
    wasted = sum(t for s, t in results if s != "completed")
    print(f"\nBudget admission: 20 concurrent runs on one space whose budget is {BUDGET_RUNS} run")
    print(f"estimates ({budget:,} tokens; one run's estimate, rpi_estimate(3), is {estimate:,})")
    print(f"  overspend                 {max(0, used - budget):,} tokens (must be 0)")
    print(f"  runs completed            {len(completed)}")
    print(f"  refused at admission      {len(refused)}")
    print(f"  other outcomes            {len(results) - len(completed) - len(refused)}")
    print(f"  tokens used               {used:,} (by completed runs {sum(completed):,})")
    print(f"  spent by runs that did not complete {wasted:,} tokens "
          f"(must be <= one run's estimate, {estimate:,})")  # fmt: skip


def breakdown(full: Any, fresh: Any, context: RunContext) -> None:
    """Ms per run by cause over ``RUNS`` instrumented runs, each on a new space."""
    from breakdown import instrument

    payloads = [fresh() for _ in range(RUNS)]
    with instrument() as totals:
        wall = sum(one_run(full, payload, context) for payload in payloads)
    print(
        f"\nWhere a live run's time goes (ms per run, mean of {RUNS}; wall {wall / RUNS * 1000:.0f}"
    )
    print("ms; sub-agents run in parallel, so their causes can add up to more than the wall):")
    for cause, seconds in totals.seconds.most_common():
        print(f"  {seconds / RUNS * 1000:7.1f}  {cause}")


def main() -> None:
    with_breakdown = "--breakdown" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {"SPACES_HOME": f"{tmp}/home", "SPACES_VAULTS_DIR": f"{tmp}/vaults"}
        )
        backends = Backends(settings)
        manager = SpaceManager(settings, backends)
        try:
            spaces = itertools.count()

            def fresh() -> dict:
                """A new space with one note (not timed), so no run searches earlier runs' notes."""
                space = manager.create_space(
                    SpaceConfig(
                        f"bench_{next(spaces)}", "Bench", "alice", monthly_token_budget=10**9
                    )
                )
                manager.open_space(space.space_id, write=True).vault.write_note(
                    "Learning/Raft.md", "A ledger block is final once the Raft log commits it."
                )
                return {"space_id": space.space_id, "query": QUERY}

            context = RunContext(user_id="alice")
            full = build_rpi(Deps(settings, backends)).compile(checkpointer=backends.checkpointer())
            bare = bare_builder().compile(checkpointer=InMemorySaver())
            payload = fresh()
            grown = measure(lambda: one_run(full, payload, context))[1]
            full_rate, full_p50, full_p95 = measure(lambda: one_run(full, fresh(), context))
            bare_rate, bare_p50, bare_p95 = measure(lambda: one_run(bare, {"query": QUERY}, None))
            print("Engine overhead (offline model, zero latency), one run = research with")
            print("three sub-agents, plan, approval, three steps, key facts, save (9 model")
            print("calls); sequential, n =", RUNS, "each on a new space with one note")
            print(f"  every store live : {full_rate:6.2f} runs/s   p50 {full_p50:7.1f} ms   "
                  f"p95 {full_p95:7.1f} ms")  # fmt: skip
            print(f"  no stores        : {bare_rate:6.2f} runs/s   p50 {bare_p50:7.1f} ms   "
                  f"p95 {bare_p95:7.1f} ms")  # fmt: skip
            print(f"  ratio (live / bare p50): {full_p50 / bare_p50:.1f}x   (load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")  # fmt: skip
            print(f"  the same {RUNS + 1} runs on one space (each searches the notes of the runs "
                  f"before it): p50 {grown:.1f} ms")  # fmt: skip
            print(f"  before (issue 10): p50 {BEFORE_P50_MS:.0f} ms; now {full_p50:.0f} ms "
                  f"({BEFORE_P50_MS / full_p50:.1f}x faster); budget p50 <= 150 ms")  # fmt: skip
            if with_breakdown:
                breakdown(full, fresh, context)
            budget_figures(full, manager, backends.pool)
        finally:
            manager.close()
            stop_graph_server(settings)
            stop_postgres(settings)


if __name__ == "__main__":
    main()

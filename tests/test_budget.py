"""Monthly token budgets hold under concurrency and end runs with ``budget_exceeded``."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from langgraph.checkpoint.memory import InMemorySaver
from psycopg import sql

from app.errors import BudgetExceeded
from app.graphs.context import RunContext
from app.graphs.rpi import builder
from app.spaces.budget import SpaceBudget
from app.spaces.migrations import REGISTRY_SCHEMA
from app.spaces.space_model import SpaceConfig, current_month


def test_concurrent_reservations_never_overspend(manager, new_id) -> None:
    config = manager.create_space(
        SpaceConfig(new_id("budget"), "B", "alice", monthly_token_budget=10_000)
    )
    budget = SpaceBudget(manager.backends.pool, config)
    granted = []
    lock = threading.Lock()

    def spend(worker: int) -> None:
        for n in range(10):
            try:
                hold = budget.reserve(700)
            except BudgetExceeded:
                return
            budget.settle(hold, 700, 0.0, idempotency_key=f"w{worker}-{n}", thread_id=None)
            with lock:
                granted.append(700)

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(spend, range(20)))
    used = manager.get_usage(config.space_id).tokens_used
    assert used == sum(granted) == 14 * 700  # 14 * 700 = 9,800 <= 10,000 < 15 * 700
    assert budget.remaining() == 200


def test_expired_holds_free_their_tokens(manager, new_id) -> None:
    config = manager.create_space(
        SpaceConfig(new_id("hold"), "H", "alice", monthly_token_budget=5_000)
    )
    budget = SpaceBudget(manager.backends.pool, config)
    budget.reserve(4_000)
    assert budget.remaining() == 1_000
    with manager.backends.pool.connection() as conn:
        conn.execute(
            sql.SQL(
                "UPDATE {}.budget_holds SET expires_at = now() - interval '1 second' "
                "WHERE space_id = %s"
            ).format(sql.Identifier(REGISTRY_SCHEMA)),
            [config.space_id],
        )
    assert budget.remaining() == 5_000  # a process that died mid-call does not lock it forever


def test_concurrent_runs_stop_at_the_budget(manager, new_id, settings) -> None:
    config = manager.create_space(
        SpaceConfig(new_id("runs"), "R", "alice", monthly_token_budget=3_000)
    )
    graph = builder.compile(checkpointer=InMemorySaver())
    context = RunContext(user_id="alice", settings=settings, token_reserve=0)

    def run(n: int) -> str:
        out = graph.invoke(
            {"space_id": config.space_id, "query": f"Question number {n} about budgets"},
            {"configurable": {"thread_id": f"{config.space_id}-{n}"}},
            context=context,
        )
        return out["status"]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(run, range(8)))
    assert "budget_exceeded" in statuses
    assert manager.get_usage(config.space_id).tokens_used <= 3_000
    assert manager.get_usage(config.space_id, current_month()).api_calls_used >= 1


def test_a_run_below_the_reserve_ends_as_budget_exceeded(manager, new_id, settings) -> None:
    reserve = 10_000
    config = manager.create_space(
        SpaceConfig(new_id("low"), "L", "alice", monthly_token_budget=reserve - 1)
    )
    out = builder.compile(checkpointer=InMemorySaver()).invoke(
        {"space_id": config.space_id, "query": "anything"},
        {"configurable": {"thread_id": f"{config.space_id}-x"}},
        context=RunContext(user_id="alice", settings=settings, token_reserve=reserve),
    )
    assert out["status"] == "budget_exceeded"
    assert "below the run reserve of 10000" in out["error"]

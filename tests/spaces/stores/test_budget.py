"""Monthly token budgets hold under concurrency and end runs with ``budget_exceeded``."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from psycopg import sql

from app.errors import BudgetExceeded
from app.graphs.context import RunContext
from app.graphs.estimate import rpi_estimate
from app.graphs.rpi import build_rpi
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from app.spaces.model.space_model import SpaceConfig, current_month
from app.spaces.stores.budget import SpaceBudget
from tests.support.deps import graph_deps


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
    graph = build_rpi(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    context = RunContext(user_id="alice", token_reserve=0)

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


def test_a_run_the_space_cannot_afford_is_refused_before_it_spends(
    manager, new_id, settings
) -> None:
    estimate = rpi_estimate(3)
    config = manager.create_space(
        SpaceConfig(new_id("low"), "L", "alice", monthly_token_budget=estimate - 1)
    )
    out = (
        build_rpi(graph_deps(settings))
        .compile(checkpointer=InMemorySaver())
        .invoke(
            {"space_id": config.space_id, "query": "anything"},
            {"configurable": {"thread_id": f"{config.space_id}-x"}},
            context=RunContext(user_id="alice"),
        )
    )
    assert out["status"] == "budget_exceeded"
    assert f"this run needs up to {estimate}" in out["error"]
    assert manager.get_usage(config.space_id).tokens_used == 0


def test_a_run_holds_its_estimate_and_frees_it_at_the_end(manager, new_id, settings) -> None:
    """While a run waits for approval it holds its tokens; when it ends it holds none."""
    config = manager.create_space(SpaceConfig(new_id("hold"), "H", "alice"))
    graph = build_rpi(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    run = {"configurable": {"thread_id": f"{config.space_id}-h"}}
    graph.invoke(
        {"space_id": config.space_id, "query": "How are holds kept?"},
        run,
        context=RunContext(user_id="alice"),
    )
    budget = SpaceBudget(manager.backends.pool, config)
    used = manager.get_usage(config.space_id).tokens_used
    held = config.monthly_token_budget - used - budget.remaining()
    assert 0 < held <= rpi_estimate(3) - used  # the rest of the estimate, minus what was used
    out = graph.invoke(Command(resume={"action": "approve"}), run, context=RunContext("alice"))
    assert out["status"] == "completed"
    used = manager.get_usage(config.space_id).tokens_used
    assert budget.remaining() == config.monthly_token_budget - used  # nothing held any more

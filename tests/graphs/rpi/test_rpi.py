"""The ``rpi`` graph end to end on the real stores, with the offline model."""

from __future__ import annotations

import pytest
from psycopg import sql

from app.errors import SpaceNotFound
from app.graphs.estimate import rpi_estimate
from app.runner import Runner
from app.spaces.infra.migrations import REGISTRY_SCHEMA
from app.spaces.model.space_model import SpaceConfig
from tests.support.deps import graph_deps
from tests.support.rpi import QUERY, seed


@pytest.fixture
def runner(settings) -> Runner:
    return Runner(settings, graph_deps(settings))


def test_run_waits_for_approval_then_saves_to_all_four_stores(manager, space, runner) -> None:
    seed(manager, space.space_id)
    waiting = runner.start("rpi", space.space_id, QUERY)
    assert waiting.status == "awaiting_approval"
    request = waiting.request
    assert request["type"] == "plan_approval" and request["space_id"] == space.space_id
    assert {"title", "steps"} <= set(request["plan"])
    assert all({"id", "description", "depends_on"} <= set(s) for s in request["plan"]["steps"])
    assert request["estimated_tokens"] > 0 and request["estimated_cost_usd"] == 0.0

    done = runner.resume(waiting.thread_id, {"action": "approve"})
    assert done.status == "completed", done.error
    doc = done.to_json()
    assert set(doc) >= {"status", "thread_id", "space_id", "artifacts", "tokens_used", "cost_usd"}
    paths = doc["artifacts"]
    folder = paths["plan"].rsplit("/", 1)[0]
    assert folder.startswith("Projects/")
    assert folder.endswith("-how-does-raft-make-ledger-blocks-final")
    assert paths == {
        "research": f"{folder}/research.md",
        "plan": f"{folder}/plan.md",
        "implementation": f"{folder}/implementation.md",
    }

    handle = manager.open_space(space.space_id)
    research = handle.vault.read_note(paths["research"])
    assert "[offline model]" in research.text
    assert "> A ledger block is final once the Raft log commits it. [" in research.text
    assert "Ledger" in research.wikilinks  # sources are wikilinks, by their unique names
    for phase in ("research", "plan", "implementation"):
        note = handle.vault.read_note(paths[phase])
        assert note.frontmatter["space"] == space.space_id
        assert note.frontmatter["thread_id"] == done.thread_id
        assert note.frontmatter["phase"] == phase
        assert note.frontmatter["model"] == "offline"
        assert note.frontmatter["tokens"] > 0
        others = {"research", "plan", "implementation"} - {phase}  # the only ones of their names
        assert others <= set(note.wikilinks)

    usage = manager.get_usage(space.space_id)
    assert done.tokens_used == usage.tokens_used > 0
    # three sub-agents screening their finds, synthesis, plan, three steps, key facts
    assert usage.api_calls_used == 9
    with handle.memory() as memory:
        facts = [m for m in memory.all() if m.metadata.get("thread_id") == done.thread_id]
    assert facts and any("final" in m.text for m in facts)
    assert ("Raft", "FINALISES", "Ledger") in handle.graph.relations()
    assert any(t[1] == "MENTIONS" for t in handle.graph.relations())
    with handle.postgres.connection() as conn:
        run = conn.execute("SELECT status, tokens_used, user_id FROM runs").fetchall()
        kinds = {r[0] for r in conn.execute("SELECT kind FROM artifacts").fetchall()}
    assert run == [("completed", done.tokens_used, space.owner_id)]
    assert kinds == {"research", "plan", "implementation"}


def test_reject_ends_the_run_and_saves_no_plan(manager, space, runner) -> None:
    waiting = runner.start("rpi", space.space_id, "Plan a migration")
    done = runner.resume(waiting.thread_id, {"action": "reject", "feedback": "not now"})
    assert done.status == "rejected"
    assert "plan" not in done.artifacts
    assert done.artifacts["research"].endswith("/research.md")
    vault = manager.open_space(space.space_id).vault
    assert not any(p.endswith("/plan.md") for p in vault.list_notes())


def test_invalid_edits_and_unknown_actions_ask_again(space, runner) -> None:
    waiting = runner.start("rpi", space.space_id, "Write a release checklist")
    tid = waiting.thread_id
    plan = waiting.plan
    cycle = {
        "title": "Loop",
        "steps": [
            {"id": "a", "description": "first", "depends_on": ["b"]},
            {"id": "b", "description": "second", "depends_on": ["a"]},
        ],
    }
    again = runner.resume(tid, {"action": "edit", "plan": cycle})
    assert again.status == "awaiting_approval"
    assert "cycle" in again.request["error"] and again.plan == plan
    unknown_dep = {"title": "T", "steps": [{"id": "a", "description": "x", "depends_on": ["z"]}]}
    again = runner.resume(tid, {"action": "edit", "plan": unknown_dep})
    assert "unknown step 'z'" in again.request["error"]
    again = runner.resume(tid, {"action": "launch"})
    assert again.status == "awaiting_approval" and "unknown action" in again.request["error"]
    revised = runner.resume(tid, {"action": "revise", "feedback": "add a rollback section"})
    assert revised.status == "awaiting_approval"
    assert any("rollback" in s["description"] for s in revised.plan["steps"])
    assert "error" not in revised.request
    edited = {
        "title": "Short checklist",
        "steps": [
            {"id": "only", "description": "Write the checklist", "depends_on": []},
        ],
    }
    done = runner.resume(tid, {"action": "edit", "plan": edited})
    assert done.status == "completed", done.error
    # The edited plan is the one carried out and saved.
    assert "Short checklist" in open_note(runner, done, "plan")
    assert "## only: Write the checklist" in open_note(runner, done, "implementation")


def open_note(runner: Runner, result, kind: str) -> str:
    return (runner.settings.vaults_dir / result.space_id / result.artifacts[kind]).read_text()


def test_refusals_before_anything_is_stored(manager, new_id, runner, space) -> None:
    with pytest.raises(SpaceNotFound, match="no space 'nosuch'"):
        runner.start("rpi", "nosuch", QUERY)  # no owner to run as
    foreign = runner.start("rpi", space.space_id, QUERY, user_id="mallory")  # not hers
    assert (foreign.status, foreign.refused) == ("failed", True)
    assert foreign.error == f"no space '{space.space_id}'"
    archived = manager.create_space(SpaceConfig(new_id("arch"), "A", "alice"))
    manager.archive_space(archived.space_id)
    refused = runner.start("rpi", archived.space_id, QUERY)
    assert refused.refused and "is archived" in refused.error
    estimate = rpi_estimate(3)
    poor = manager.create_space(
        SpaceConfig(new_id("poor"), "Poor", "alice", monthly_token_budget=estimate - 1)
    )
    spent = runner.start("rpi", poor.space_id, QUERY)
    assert (spent.status, spent.refused) == ("budget_exceeded", True)
    assert f"this run needs up to {estimate}" in spent.error
    with manager.backends.pool.connection() as conn:
        threads = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.threads WHERE space_id = ANY(%s)").format(
                sql.Identifier(REGISTRY_SCHEMA)
            ),
            [[archived.space_id, poor.space_id, space.space_id]],
        ).fetchone()[0]
        holds = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.budget_holds WHERE space_id = %s").format(
                sql.Identifier(REGISTRY_SCHEMA)
            ),
            [poor.space_id],
        ).fetchone()[0]
    assert threads == 0 and holds == 0
    assert manager.get_usage(poor.space_id).tokens_used == 0


def test_graph_refuses_a_foreign_user_with_a_status(manager, space, settings) -> None:
    """Called directly (as the server does), the graph ends with a status, not a traceback."""
    from langgraph.checkpoint.memory import InMemorySaver

    from app.graphs.context import RunContext
    from app.graphs.rpi import build_rpi

    graph = build_rpi(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    out = graph.invoke(
        {"space_id": space.space_id, "query": QUERY},
        {"configurable": {"thread_id": "foreign-1"}},
        context=RunContext(user_id="mallory"),
    )
    assert out["status"] == "failed"
    assert out["error"] == f"no space '{space.space_id}'"
    assert manager.get_usage(space.space_id).tokens_used == 0
    out = graph.invoke(
        {"space_id": "../etc", "query": QUERY},
        {"configurable": {"thread_id": "foreign-2"}},
        context=RunContext(user_id="alice"),
    )
    assert out["status"] == "failed" and "invalid space id" in out["error"]


def test_another_user_cannot_resume_or_read_a_run(space, runner) -> None:
    waiting = runner.start("rpi", space.space_id, QUERY)
    with pytest.raises(SpaceNotFound, match="no run"):
        runner.resume(waiting.thread_id, {"action": "approve"}, user_id="mallory")
    with pytest.raises(SpaceNotFound, match="no run"):
        runner.status(waiting.thread_id, user_id="mallory")
    assert runner.status(waiting.thread_id).status == "awaiting_approval"


def test_served_runs_take_the_user_from_authentication(space, settings) -> None:
    """Under the LangGraph server the context's user_id cannot name someone else."""
    from langgraph.checkpoint.memory import InMemorySaver

    from app.graphs.context import RunContext
    from app.graphs.rpi import build_rpi

    graph = build_rpi(graph_deps(settings)).compile(checkpointer=InMemorySaver())
    claims_alice = RunContext(user_id="alice")
    anonymous = graph.invoke(
        {"space_id": space.space_id, "query": QUERY},
        {"configurable": {"thread_id": "served-1", "graph_id": "rpi"}},
        context=claims_alice,
    )
    assert anonymous["status"] == "failed"
    assert anonymous["error"] == "runs on the server need an authenticated user"

    class Bob:
        identity = "bob"
        is_authenticated = True

    as_bob = graph.invoke(
        {"space_id": space.space_id, "query": QUERY},
        {
            "configurable": {
                "thread_id": "served-2",
                "graph_id": "rpi",
                "langgraph_auth_user": Bob(),
            }
        },
        context=claims_alice,
    )
    assert as_bob["status"] == "failed" and as_bob["error"] == f"no space '{space.space_id}'"

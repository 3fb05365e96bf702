"""What ``rpi`` leaves in the space: notes, memories, graph facts and run records.

``save_outputs`` is written to be run again safely: notes are replaced in
place, each memory carries an idempotency key, graph writes are MERGEs and
the Postgres rows are upserts. The graph facts are made durable before the
run is recorded as completed, because a completed run never rewrites them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage

from app.graphs.citations import count_marks
from app.graphs.messages import answer
from app.graphs.notes import keep_links_resolving
from app.llm.offline import estimate_tokens
from app.llm.pricing import cost_usd
from app.llm.resolve import MAX_OUTPUT_TOKENS, model_names
from app.spaces.stores.budget import thread_totals
from app.spaces.stores.run_records import run_owner, upsert_run

if TYPE_CHECKING:
    from app.graphs.scope import Scope

STEP_OVERHEAD_TOKENS = 300


def estimate_plan(plan: dict[str, Any], research: str, model: str) -> tuple[int, float]:
    """Tokens and USD the plan's execution should take at most (each step's maximum output)."""
    per_step_in = estimate_tokens(research) + STEP_OVERHEAD_TOKENS
    steps = len(plan["steps"]) + 1  # plus the key-facts call
    tokens_in, tokens_out = per_step_in * steps, MAX_OUTPUT_TOKENS * steps
    return tokens_in + tokens_out, round(cost_usd(model_names(model)[0], tokens_in, tokens_out), 6)


def plan_markdown(plan: dict[str, Any]) -> str:
    """The plan as a numbered Markdown list."""
    lines = [f"# {plan['title']}", ""]
    for n, step in enumerate(plan["steps"], start=1):
        after = f" _(after {', '.join(step['depends_on'])})_" if step["depends_on"] else ""
        lines.append(f"{n}. **{step['id']}**: {step['description']}{after}")
    return "\n".join(lines)


def implementation_text(state: dict[str, Any]) -> str:
    """Every step's deliverable, in the order they were carried out."""
    steps = {s["id"]: s for s in state["plan"]["steps"]}
    done = state.get("deliverables") or {}
    parts = [f"# Implementation: {state['plan']['title']}"]
    for sid in state["order"]:
        if sid in done:
            parts.append(f"## {sid}: {steps[sid]['description']}\n\n{done[sid].strip()}")
    return "\n\n".join(parts)


def final_answer(state: dict[str, Any], status: str) -> AIMessage | None:
    """The run's answer as a chat UI shows it: the implementation, or why the plan was declined."""
    if status == "completed" and state.get("plan"):
        return answer(implementation_text(state), "answer")
    if status == "rejected":
        why = state.get("feedback") or state.get("error") or "declined"
        return answer(f"The plan was rejected: {why}", "answer")
    return None


def save_outputs(scope: Scope, state: dict[str, Any]) -> tuple[dict[str, str], int, int]:
    """Write everything the run produced; return the artifacts' vault paths.

    Also returns the implementation's unverified citations and quotes (its
    deliverables were checked and marked as they were written).
    """
    space, thread_id = scope.space, scope.thread_id
    pool = scope.deps.backends.pool
    user_id = run_owner(pool, thread_id, scope.user_id) if thread_id else scope.user_id
    note_dir = state["note_dir"]
    tokens, cost = thread_totals(scope.deps.backends.pool, thread_id) if thread_id else (0, 0.0)

    impl_text = implementation_text(state)
    cites, quotes = count_marks(impl_text)

    def front(phase: str) -> dict[str, Any]:
        checked = (
            {"unverified_citations": cites, "unverified_quotes": quotes}
            if phase == "implementation"
            else {}
        )
        return {
            **checked,
            "space": state["space_id"],
            "thread_id": thread_id,
            "phase": phase,
            "model": state["model"],
            "tokens": tokens,
            "query": state["query"],
            "tags": [f"spaces/{phase}"],
        }

    vault, research_path = space.vault, state["research_path"]
    plan_path, impl_path = f"{note_dir}/plan.md", f"{note_dir}/implementation.md"
    for path in (plan_path, impl_path):
        keep_links_resolving(vault, path)
    # Shortest unique forms, as Obsidian writes them, counting the two notes written now.
    research, plan, impl = vault.link_names(
        [research_path, plan_path, impl_path], also=[plan_path, impl_path]
    )
    plan_text = plan_markdown(state["plan"])
    artifacts = {
        "research": research_path,
        "plan": vault.write_note(
            plan_path, plan_text, frontmatter=front("plan"), links=[research, impl]
        ),
        "implementation": vault.write_note(
            impl_path, impl_text, frontmatter=front("implementation"), links=[research, plan]
        ),
    }
    vault.set_related(research_path, [plan, impl])  # now that both exist
    facts = state.get("facts") or {}
    with space.memory() as memory:
        for n, fact in enumerate(facts.get("facts", [])):
            memory.add(
                fact,
                {"thread_id": thread_id, "kind": "fact", "source": artifacts["implementation"]},
                key=f"{thread_id}:fact:{n}",
            )
    space.graph.merge_facts(
        [(e["name"], e["kind"]) for e in facts.get("entities", [])],
        [(r["source"], r["relation"], r["target"]) for r in facts.get("relations", [])],
    )
    # Durable before the run is recorded as saved: a completed run never writes them again.
    space.graph.make_durable()
    if thread_id:
        texts = {
            "research": state.get("research", ""),
            "plan": plan_text,
            "implementation": impl_text,
        }
        upsert_run(
            space.postgres,
            thread_id=thread_id,
            user_id=user_id,
            query=state["query"],
            status="completed",
            model=state["model"],
            tokens_used=tokens,
            cost_usd=cost,
            result={"artifacts": artifacts},
            artifacts=[(kind, path, texts[kind]) for kind, path in artifacts.items()],
        )
    return artifacts, cites, quotes

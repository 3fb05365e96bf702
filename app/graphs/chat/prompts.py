"""Prompts of ``chat``, in the tagged sections the offline model also reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

PLAN_SYSTEM = (
    "You are the orchestrator of a personal team of agents. Split the user's request into "
    "1 to 8 tasks, each given to the one agent best suited to it, with ids like t1, t2. "
    "A task that needs another task's result lists that task in depends_on; tasks that do "
    "not depend on each other run in parallel. Use only the agents listed."
)

SUMMARY_SYSTEM = (
    "Summarise the earlier turns of this conversation in a few sentences: what was asked, "
    "what was decided and what is still open. Keep names, numbers and conclusions."
)

HISTORY_MAX_CHARS = 6_000


def history_section(history: Sequence[dict[str, Any]]) -> str:
    """The session's recent messages (a summary first, once compacted), newest last, cut."""
    lines = [
        f"<turn role={quoteattr(m['role'])}>{escape(str(m['content']))}</turn>" for m in history
    ]
    text = "\n".join(lines)[-HISTORY_MAX_CHARS:]
    return f"<history>\n{text}\n</history>\n" if text else ""


def plan_prompt(
    request: str, agents: Sequence[Any], history: Sequence[dict[str, Any]], error: str | None
) -> str:
    """Ask for a task plan over ``agents``; ``error`` says what was wrong with the last one."""
    listed = "".join(
        f"<agent name={quoteattr(a.name)}>{escape(a.system_prompt[:300])}</agent>\n" for a in agents
    )
    retry = f"<error>{escape(error)}</error>\n" if error else ""
    return (
        "<task>orchestrate</task>\n"
        f"<agents>\n{listed}</agents>\n{history_section(history)}"
        f"<request>{escape(request)}</request>\n{retry}"
        "Produce the task plan."
    )


def _hits(tag: str, texts: Sequence[str]) -> str:
    return "".join(f"<{tag}>{escape(text[:500])}</{tag}>\n" for text in texts)


def task_prompt(
    agent: str,
    instruction: str,
    earlier: dict[str, str],
    own: Sequence[str],
    shared: Sequence[str],
    history: Sequence[dict[str, Any]],
) -> str:
    """One agent's task, with its own context, the space's recall and the results it needs."""
    before = "".join(
        f"<result task={quoteattr(tid)}>{escape(text[:2_000])}</result>\n"
        for tid, text in earlier.items()
    )
    return (
        "<task>agent</task>\n"
        f"<agent>{escape(agent)}</agent>\n{history_section(history)}"
        f"<context>\n{_hits('own', own)}{_hits('recall', shared)}</context>\n{before}"
        f"<instruction>{escape(instruction)}</instruction>\n"
        "Carry out the instruction."
    )


def summary_prompt(turns: Sequence[dict[str, Any]]) -> str:
    """Ask for a summary of ``turns`` (the raw messages compaction takes out)."""
    return f"<task>summarise</task>\n{history_section(turns)}Summarise these turns."

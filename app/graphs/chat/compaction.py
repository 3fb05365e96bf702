"""Compaction of a session's history (seed ``spacebot-mvp-roadmap``, phase 6).

After a turn's reply is stored and sent, the history is measured against the
session's budget (``chat_context_tokens``). Above ``compact_at`` (80%) the
model summarises the older turns into one summary message; above
``truncate_at`` (95%) the oldest turns are dropped without calling the model,
until the history is back under ``compact_at``. Either way the raw turns go
to ``conversation_archives`` in the same transaction, so nothing is lost,
and the current reply has already been delivered: compaction never delays it.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from app.graphs.chat.prompts import SUMMARY_SYSTEM, summary_prompt
from app.graphs.scope import Scope
from app.llm.offline import estimate_tokens
from app.spaces.stores.chat_store import ChatStore

KEEP_TURNS = 2  # the latest turns always stay as they are
SUMMARY_MAX_OUTPUT = 500


def history_tokens(messages: list[dict[str, Any]]) -> int:
    """What the history costs in a prompt (the same estimate the budget uses)."""
    return sum(estimate_tokens(str(m["content"])) for m in messages)


def _older(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    turns = sorted({m["turn"] for m in messages if m["role"] != "summary"})
    keep = set(turns[-KEEP_TURNS:])
    return [m for m in messages if m["turn"] not in keep]


def compact(scope: Scope, session_id: str, model: str) -> dict[str, Any] | None:
    """Summarise or truncate the session's history if it is over its thresholds.

    Returns what was done (for the event), or ``None`` when nothing was needed.
    """
    settings = scope.settings
    store = ChatStore(scope.space.postgres)
    messages = store.messages(session_id)
    budget = settings.chat_context_tokens
    used = before = history_tokens(messages)
    if used <= settings.compact_at * budget:
        return None
    older = _older(messages)
    if not older:
        return None
    if used > settings.truncate_at * budget:
        dropped: list[dict[str, Any]] = []
        for message in older:
            if used <= settings.compact_at * budget:
                break
            dropped.append(message)
            used -= estimate_tokens(str(message["content"]))
        whole = {m["turn"] for m in dropped}  # never split a turn
        dropped = [m for m in older if m["turn"] in whole]
        store.archive(session_id, "truncated", dropped, None)
        return {"kind": "truncated", "messages": len(dropped), "tokens_before": before}
    answer = scope.ask(
        [SystemMessage(SUMMARY_SYSTEM), HumanMessage(summary_prompt(older))],
        model=model,
        max_output=SUMMARY_MAX_OUTPUT,
    )
    store.archive(session_id, "summarised", older, str(answer.content))
    return {"kind": "summarised", "messages": len(older), "tokens_before": before}
